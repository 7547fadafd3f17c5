"""Links from the chapters' code cells to the API pages: sphinx-codeautolink, made to fit.

A Sphinx extension (listed in ``_config.yml``). It loads ``sphinx_codeautolink``, which
reads every code cell, follows the imports (``from mvk_tutorial.attention import
scaled_dot_product_attention``) and turns each use of a documented name into a link to
its entry on the API pages of :mod:`mvk_tutorial.api_pages`.

One adjustment: sphinx-exercise wraps an exercise's and a solution's body in a
``section`` node that has no title, while codeautolink's reader pops a section title
for every section it leaves, and fails on the first exercise. Leaving an untitled
section therefore pops nothing here.

Book: ch00, section "Building the book".
"""

from __future__ import annotations

from docutils import nodes


def _has_title(section: nodes.section) -> bool:
    return any(isinstance(child, nodes.title) for child in section.children)


def patch_untitled_sections(analyser_class) -> None:
    """Make ``analyser_class.depart_section`` skip sections without a title (once).

    Book: ch00, section "Building the book".
    """
    original = analyser_class.depart_section
    if getattr(original, "_mvk_untitled_ok", False):
        return

    def depart_section(self, node):
        if _has_title(node):
            original(self, node)

    depart_section._mvk_untitled_ok = True
    analyser_class.depart_section = depart_section


def setup(app):
    from sphinx_codeautolink.extension.block import CodeBlockAnalyser

    patch_untitled_sections(CodeBlockAnalyser)
    app.setup_extension("sphinx_codeautolink")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
