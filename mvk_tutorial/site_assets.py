"""Serve the site's JavaScript from the site itself, so that it works offline.

The rendered book needs three JavaScript packages in the reader's browser: MathJax
(math), require.js and the jupyter-widgets HTML manager (the embedded widgets of
ch01 and ch10). Sphinx and myst-nb load them from CDNs by default; ``_config.yml``
points ``mathjax_path`` and ``nb_ipywidgets_js`` at ``_static/offline/...`` instead,
and this extension puts the files there: it installs the npm packages pinned in
``js/package.json`` / ``js/package-lock.json`` (``npm ci``) when ``js/node_modules``
is missing, and copies the parts the pages load into ``_build/html/_static/offline``
when the build finishes (the manager's icon fonts also go where its CSS looks for
them: ``@jupyter-widgets/html-manager/dist/`` and ``@jupyter-widgets/`` beside each
page that has widgets).
No JavaScript of ours is involved. MathJax is version 2 because the widget manager
typesets widget labels through MathJax 2's API.

It also keeps the pages free of two things that break an offline reader's console:
sphinx-thebe's scripts (live code needs a remote kernel, so an offline site cannot use
it; Jupyter Book adds them twice, which is a JavaScript error) and the theme's
empty colour mode (``html_context.default_mode`` becomes "light" unless ``_config.yml`` sets it).

Book: ch00, section "Reading the book offline".
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

FONT_PATTERNS = ("*.woff", "*.woff2", "*.ttf", "*.eot", "*.svg")
# (source inside js/node_modules, target inside _static/offline, file patterns or None=all)
ASSETS = (
    # MathJax 2: the widget manager typesets labels with MathJax 2's API (MathJax.Hub),
    # which MathJax 3 does not have; CommonHTML output with the TeX fonts only.
    ("mathjax/MathJax.js", "mathjax/MathJax.js", None),
    ("mathjax/config/TeX-AMS_CHTML.js", "mathjax/config/TeX-AMS_CHTML.js", None),
    ("mathjax/extensions", "mathjax/extensions", None),
    ("mathjax/jax/input/TeX", "mathjax/jax/input/TeX", None),
    ("mathjax/jax/output/CommonHTML", "mathjax/jax/output/CommonHTML", None),
    ("mathjax/jax/element", "mathjax/jax/element", None),
    ("mathjax/localization/en", "mathjax/localization/en", None),
    ("mathjax/fonts/HTML-CSS/TeX/woff", "mathjax/fonts/HTML-CSS/TeX/woff", None),
    ("mathjax/fonts/HTML-CSS/TeX/otf", "mathjax/fonts/HTML-CSS/TeX/otf", None),
    ("requirejs/require.js", "require.js", None),
    (
        "@jupyter-widgets/html-manager/dist",
        "html-manager",
        ("embed-amd.js",) + FONT_PATTERNS,
    ),
)
# The manager's icon font URLs are resolved relative to the page, under these folders:
# webpack's public path is the folder of the require.js module that asked for the font,
# the manager's own bundle (html-manager/dist/) or a controls module at @jupyter-widgets/
# (the Play button of ch08's scrubber draws its icons from there).
WIDGET_FONT_DIRS = ("@jupyter-widgets/html-manager/dist", "@jupyter-widgets")


def _node_modules(app) -> Path:
    js_dir = Path(app.confdir or app.srcdir) / app.config.site_assets_js_dir
    modules = js_dir / "node_modules"
    if all((modules / src).exists() for src, _, _ in ASSETS):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise ExtensionError(
            f"site_assets: {modules} lacks the site's JavaScript packages and npm "
            "is not installed; install Node.js/npm (e.g. `apt-get install npm`) or run "
            f"`npm ci --prefix {js_dir}` on a machine that has it"
        )
    logger.info(f"site_assets: npm ci --prefix {js_dir}")
    done = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(js_dir)],
        capture_output=True,
        text=True,
    )
    missing = [src for src, _, _ in ASSETS if not (modules / src).exists()]
    if done.returncode != 0 or missing:
        raise ExtensionError(
            f"site_assets: `npm ci --prefix {js_dir}` failed (exit {done.returncode}); "
            f"missing {missing}; npm said: {done.stderr.strip()[-2000:]}"
        )
    return modules


def _check_config(app) -> None:
    if app.builder.format != "html":
        return
    for name, value in (
        ("mathjax_path", app.config.mathjax_path),
        *((f"nb_ipywidgets_js key", key) for key in app.config.nb_ipywidgets_js),
    ):
        if "://" in value:
            raise ExtensionError(
                f"site_assets: {name} = {value!r} loads from the network; point it "
                "at offline/... (see _config.yml)"
            )
    app.env.site_assets_modules = str(_node_modules(app))


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    modules = Path(_node_modules(app))
    vendor = Path(app.outdir) / "_static" / "offline"
    for src, dst, patterns in ASSETS:
        source, target = modules / src, vendor / dst
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif patterns is None:
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            for pattern in patterns:
                for path in source.glob(pattern):
                    shutil.copy2(path, target / path.name)
    # The manager's CSS asks for its icon fonts at <page folder>/<one of WIDGET_FONT_DIRS>/.
    outdir = Path(app.outdir)
    folders = {
        page.parent
        for page in outdir.rglob("*.html")
        if "offline/html-manager/embed-amd.js" in page.read_text(errors="replace")
    }
    fonts = modules / "@jupyter-widgets/html-manager/dist"
    for folder in folders:
        for font_dir in WIDGET_FONT_DIRS:
            target = folder / font_dir
            target.mkdir(parents=True, exist_ok=True)
            for pattern in FONT_PATTERNS:
                for path in fonts.glob(pattern):
                    shutil.copy2(path, target / path.name)


def _theme_mode(app, config) -> None:
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")
    config.html_context = context


def _page_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    kept = []
    for script in scripts:
        name = getattr(script, "filename", None) or str(script)
        body = getattr(script, "attributes", {}).get("body", "") or ""
        if name.endswith("sphinx-thebe.js") or "THEBE_JS_URL" in body:
            continue
        kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.add_config_value("site_assets_js_dir", "js", "html")
    app.connect("builder-inited", _check_config)
    app.connect("build-finished", _copy)
    app.connect("config-inited", _theme_mode)
    app.connect("html-page-context", _page_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
