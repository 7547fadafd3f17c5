"""Plots and the search box of known-item search: result thumbnails for a query.

Book: ch10, section "An interactive search box".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mvk_tutorial.retrieval.embed import decode_image
from mvk_tutorial.retrieval.index import build_index
from mvk_tutorial.retrieval.search import top_k


def show_results(
    frame_paths: Sequence[str],
    indices,
    scores,
    query: str,
    cols: int = 4,
    target: int | None = None,
):
    """Plot the result thumbnails with their rank and score; the target framed in red."""
    import matplotlib.pyplot as plt

    rows = (len(indices) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, (i, s) in enumerate(zip(list(indices), list(scores))):
        ax = axes.flat[r]
        ax.imshow(decode_image(frame_paths[int(i)]))
        ax.set_title(
            f"#{r} score {float(s):.2f}",
            fontsize=8,
            color="red" if target is not None and int(i) == target else "black",
        )
    fig.suptitle(f"query: {query!r}", fontsize=9)
    fig.tight_layout()
    return fig


def _png(fig) -> bytes:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def search_box(
    bundle,
    frame_emb: torch.Tensor,
    frame_paths: Sequence[str],
    k: int = 8,
    value: str = "a sea turtle",
):
    """An ipywidgets text box that shows the top-``k`` thumbnails of the typed query.

    The results are a PNG in a display that is updated in place (no ``Output`` widget,
    so the notebook also executes cleanly without a browser). Each query is answered
    by an exact FAISS index (``IndexFlatIP``) built once from ``frame_emb``.
    Book: ch10, section "An interactive search box".
    """
    import ipywidgets as widgets
    from IPython.display import Image, display

    index = build_index(frame_emb, list(frame_paths))
    box = widgets.Text(
        value=value,
        description="query:",
        continuous_update=False,
        layout=widgets.Layout(width="60%"),
    )

    def render(query: str):
        idx, sc = top_k(bundle, frame_emb, query, k, index=index)
        return Image(data=_png(show_results(frame_paths, idx, sc, query)))

    display(box)
    handle = display(render(box.value), display_id=True)

    def update(change) -> None:
        if change["new"].strip():
            handle.update(render(change["new"]))

    box.observe(update, names="value")
    return box
