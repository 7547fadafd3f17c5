"""The API reference of the book: one page per module of the package.

A Sphinx extension (listed in ``_config.yml``). Before the table of contents is read,
it writes ``book/api/<module>.md`` for every module of ``mvk_tutorial`` (a title and an
``automodule`` directive; autodoc renders the docstrings) and removes pages of modules
that no longer exist, so the reference always matches the code; ``_toc.yml`` takes
the pages with a glob. The pages are build products (git ignores them).

Book: ch00, section "Building the book".
"""

from __future__ import annotations

from pathlib import Path

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

    A package's page shows its docstring only: what it re-exports is documented on
    the page of the module that defines it.

    Book: ch00, section "Building the book".
    """
    options = "" if is_package else "   :members:\n   :show-inheritance:\n"
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
    from mvk_tutorial.utils import atomic_write

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


def _on_config(app, config) -> None:
    write_pages(Path(app.srcdir))


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    # Before sphinx-external-toc reads _toc.yml (its handler runs at priority 900).
    app.connect("config-inited", _on_config, priority=100)
    app.connect("autodoc-process-docstring", _on_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
