"""Plots and widgets shared by the chapters (all plotting code of the package).

- :mod:`mvk_tutorial.viz.attention`: attention heatmaps, one query's weights, a query
  picker, CLS-attention maps over images (ch01, ch02);
- :mod:`mvk_tutorial.viz.search`: result thumbnails and the interactive search box of
  known-item search (ch10).

The old import paths (``mvk_tutorial.attention.plots``, ``mvk_tutorial.retrieval.search``)
re-export these names. Book: ch00, section "Setting up: the two commands".
"""
