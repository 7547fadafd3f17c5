"""Old home of the attention plots, kept so that existing imports work.

The code lives in :mod:`mvk_tutorial.viz.attention` (all plotting is in ``viz/``).

Book: ch01 "A heatmap of attention weights"; ch02 "Attention maps and rollout".
"""

from mvk_tutorial.viz.attention import (  # noqa: F401
    plot_attention_heatmap,
    plot_query_weights,
    query_picker,
    cls_attention_grid,
    overlay,
)

__all__ = [
    "plot_attention_heatmap",
    "plot_query_weights",
    "query_picker",
    "cls_attention_grid",
    "overlay",
]
