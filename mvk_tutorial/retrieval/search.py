"""Text search over a frame collection: top-k frames for a typed query, and a search box.

Book: ch10, section "An interactive search box".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mvk_tutorial.utils.lazy import lazy_exports

# plotting lives in viz/ (which imports top_k from here); the old names stay importable
__getattr__, __dir__ = lazy_exports(
    __name__,
    {"search_box": "mvk_tutorial.viz.search", "show_results": "mvk_tutorial.viz.search"},
)


def top_k(
    bundle, frame_emb: torch.Tensor, query: str, k: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, cosine scores) of the ``k`` frames closest to the text ``query``.

    ``frame_emb`` (N, D) must be L2-normalised (as ``ClipBundle.encode_image`` returns).
    Ties are broken by collection order. Book: ch10.
    """
    if not query.strip():
        raise ValueError("query: expected a non-empty text")
    q = bundle.encode_text([query])[0].to(frame_emb)  # (D,)
    if q.shape[0] != frame_emb.shape[1]:
        raise ValueError(
            f"model gives D={q.shape[0]} but frame_emb has D={frame_emb.shape[1]}"
        )
    scores = frame_emb @ q  # (N,)
    order = torch.sort(scores, descending=True, stable=True).indices[:k]
    return order, scores[order]
