"""The API reference of the book: one page per module of the package.

A Sphinx extension (listed in ``_config.yml``). Before the table of contents is read,
it writes ``book/api/<module>.md`` for every module of ``mvk_tutorial`` (a title and an
``automodule`` directive; autodoc renders the docstrings) and removes pages of modules
that no longer exist, so the reference always matches the code; ``_toc.yml`` takes
the pages with a glob. The pages are build products (git ignores them).

Each chapter also ends with a list, "Package API used in this chapter", linking every
``mvk_tutorial`` name its code cells import to that name's entry in the reference.

Book: ch00, section "Building the book".
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from mvk_tutorial.utils import atomic_write

PAGE_GLOB = "mvk_tutorial*.md"
API_DIR = Path("book") / "api"


def module_names(package_dir: Path, package: str = "mvk_tutorial") -> list[str]:
    """Dotted names of every module and sub-package under ``package_dir``, sorted.

    Book: ch00, section "Building the book".
    """
    names = set()
    for path in package_dir.rglob("*.py"):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        if not all((package_dir.joinpath(*parts[:i]) / "__init__.py").exists()
                   for i in range(len(parts))):
            continue  # a folder of scripts, not a sub-package
        names.add(".".join([package, *parts]))
    return sorted(names)


def page_text(module: str, is_package: bool = False) -> str:
    """The Markdown source of the API page of ``module``.

    Each page documents what its module defines, not what it imports (``__all__`` is
    ignored), so a re-exported name has one entry: on the page of its own module.

    Book: ch00, section "Building the book".
    """
    options = "   :members:\n   :undoc-members:\n   :ignore-module-all:\n   :show-inheritance:\n"
    return (
        f"# `{module}`\n\n"
        "```{eval-rst}\n"
        f".. automodule:: {module}\n"
        f"{options}"
        "```\n"
    )


def _rst_problems(text: str) -> bool:
    """True when docutils reports anything (a warning or worse) parsing ``text``."""
    import docutils.frontend
    import docutils.nodes
    import docutils.parsers.rst
    import docutils.utils

    parser = docutils.parsers.rst.Parser()
    settings = docutils.frontend.get_default_settings(docutils.parsers.rst.Parser)
    settings.report_level = 5
    settings.halt_level = 5
    settings.warning_stream = False
    document = docutils.utils.new_document("<docstring>", settings)
    parser.parse(text, document)
    return any(
        node["level"] >= 2 for node in document.findall(docutils.nodes.system_message)
    ) or any(True for _ in document.findall(docutils.nodes.substitution_reference))


def plain_if_not_rst(lines: list[str]) -> list[str]:
    """The docstring ``lines`` as they are, or as a literal block if they are not rST.

    Docstrings are written for people reading the code; one that reStructuredText
    cannot parse cleanly is shown verbatim rather than failing the (``-W``) build.

    Book: ch00, section "Building the book".
    """
    # Roles such as :func:`x` are fine in rST but unknown to plain docutils.
    probe = "\n".join(lines)
    for role in ("func", "class", "meth", "mod", "attr", "data", "exc", "obj"):
        probe = probe.replace(f":{role}:`", "`")
    if not _rst_problems(probe):
        return lines
    return ["::", ""] + ["    " + line if line else "" for line in lines] + [""]


def _on_docstring(app, what, name, obj, options, lines) -> None:
    lines[:] = plain_if_not_rst(list(lines))


def write_pages(root: Path) -> list[Path]:
    """Write (only when changed) the API pages under ``root/book/api``; returns them.

    Book: ch00, section "Building the book".
    """

    out = root / API_DIR
    out.mkdir(parents=True, exist_ok=True)
    wanted = {}
    package_dir = root / "mvk_tutorial"
    for name in module_names(package_dir):
        rel = Path(*name.split(".")[1:])
        is_package = (package_dir / rel / "__init__.py").exists()
        wanted[out / f"{name}.md"] = page_text(name, is_package)
    for stale in set(out.glob(PAGE_GLOB)) - set(wanted):
        stale.unlink()
    for path, text in wanted.items():
        if not path.exists() or path.read_text() != text:
            atomic_write(path, text)
    return sorted(wanted)


def api_targets(code: str) -> list[tuple[str, str]]:
    """(label, full dotted target) for every ``mvk_tutorial`` name that ``code`` imports.

    Targets are where the object is defined (``mvk_tutorial.attention.sdpa.x`` for a
    name imported from ``mvk_tutorial.attention``), so that they match the API pages;
    for data (a constant) the target is the module that assigns it.
    IPython lines (``%magic``, ``!cmd``) are ignored; unparsable code gives nothing.

    Book: ch00, section "Building the book".
    """
    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mvk_tutorial"):
            for alias in node.names:
                target = _defined_at(node.module, alias.name)
                if target:
                    found.append((alias.name, target))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mvk_tutorial"):
                    found.append((alias.name, alias.name))
    return found


def _defined_at(module: str, name: str) -> str | None:
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        try:  # a sub-module: from mvk_tutorial import checks
            importlib.import_module(f"{module}.{name}")
            return f"{module}.{name}"
        except ImportError:
            return None
    if hasattr(obj, "__path__") or type(obj).__name__ == "module":
        return obj.__name__
    home = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if home and qualname and home.startswith("mvk_tutorial"):
        return f"{home}.{qualname}"
    # Data (a tuple, a dict) does not know its module: find the one that assigns it.
    package_dir = Path(importlib.import_module("mvk_tutorial").__file__).parent
    assigned = re.compile(rf"^{re.escape(name)}\s*(:[^=\n]*)?=", re.M)
    for candidate in module_names(package_dir):
        rel = Path(*candidate.split(".")[1:])
        path = package_dir / rel / "__init__.py"
        path = path if path.exists() else (package_dir / rel).with_suffix(".py")
        if assigned.search(path.read_text()):
            try:
                if getattr(importlib.import_module(candidate), name, None) is obj:
                    return candidate  # autodoc gives data no entry of its own: its module
            except ImportError:
                continue
    return f"{module}.{name}"


def _api_used(app, doctree) -> None:
    from docutils import nodes
    from sphinx.addnodes import pending_xref

    if not re.match(r"book/ch\d\d_", app.env.docname):
        return
    targets: dict[str, str] = {}  # shown name -> reference target
    for block in doctree.findall(nodes.literal_block):
        for label, target in api_targets(block.astext()):
            shown = target if target.rsplit(".", 1)[-1] == label else f"{target}.{label}"
            targets.setdefault(shown, target)
    sections = [n for n in doctree.children if isinstance(n, nodes.section)]
    if not targets or not sections:
        return
    para = nodes.paragraph()
    for i, (shown, target) in enumerate(sorted(targets.items())):
        if i:
            para += nodes.Text(", ")
        ref = pending_xref(
            "", refdomain="py", reftype="obj", reftarget=target, refexplicit=True,
            refwarn=False, refdoc=app.env.docname,
        )
        ref += nodes.literal(shown, shown)
        para += ref
    sections[-1] += nodes.rubric("", "Package API used in this chapter")
    sections[-1] += para


def _on_config(app, config) -> None:
    write_pages(Path(app.srcdir))


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    # Before sphinx-external-toc reads _toc.yml (its handler runs at priority 900).
    app.connect("config-inited", _on_config, priority=100)
    app.connect("autodoc-process-docstring", _on_docstring)
    app.connect("doctree-read", _api_used)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
