"""Plots and widgets shared by the chapters (all plotting code of the package).

- :mod:`mvk_tutorial.viz.attention`: attention heatmaps, one query's weights, a query
  picker, CLS-attention maps over images (ch01, ch02);
- :mod:`mvk_tutorial.viz.search`: result thumbnails and the interactive search box of
  known-item search (ch10).

The old import paths (``mvk_tutorial.attention.plots``, ``mvk_tutorial.retrieval.search``)
re-export these names. Book: ch00, section "Setting up: the two commands".

``glue`` registers a figure for a numbered MyST ``{glue:figure}`` caption.
"""


def glue(name: str, obj, display: bool = True) -> None:
    """Glue ``obj`` (a figure) under ``name`` for a numbered MyST ``{glue:figure}``.

    Uses ``myst_nb.glue`` when Jupyter Book's ``myst_nb`` is installed; without it (a
    plain Jupyter or Colab session) the figure is simply displayed.

    Book: ch00, section "0. How to use this book".
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:  # no Jupyter Book here: show the figure, no caption machinery
        if display:
            from IPython.display import display as _display

            _display(obj)
        return
    _glue(name, obj, display=display)
