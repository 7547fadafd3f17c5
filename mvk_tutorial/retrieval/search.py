"""Text search over a frame collection: top-k frames for a typed query, and a search box.

Book: ch10, section "An interactive search box".
"""

from __future__ import annotations


import torch

from mvk_tutorial.utils.lazy import lazy_exports

# plotting lives in viz/ (which imports top_k from here); the old names stay importable
__getattr__, __dir__ = lazy_exports(
    __name__,
    {"search_box": "mvk_tutorial.viz.search", "show_results": "mvk_tutorial.viz.search"},
)


def top_k(
    bundle, frame_emb: torch.Tensor, query: str, k: int = 8, index=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, cosine scores) of the ``k`` frames closest to the text ``query``.

    ``frame_emb`` (N, D) must be L2-normalised (as ``ClipBundle.encode_image`` returns).
    Without ``index`` all N scores are computed and sorted (ties broken by collection
    order); with a :class:`~mvk_tutorial.retrieval.index.FrameIndex` built from the
    same embeddings, FAISS answers instead (exact for the "flat" kind).
    Book: ch10, section "An interactive search box".
    """
    if not query.strip():
        raise ValueError("query: expected a non-empty text")
    q = bundle.encode_text([query])[0].to(frame_emb)  # (D,)
    if q.shape[0] != frame_emb.shape[1]:
        raise ValueError(
            f"model gives D={q.shape[0]} but frame_emb has D={frame_emb.shape[1]}"
        )
    if index is not None:
        if len(index) != frame_emb.shape[0]:
            raise ValueError(
                f"index: holds {len(index)} frames but frame_emb has {frame_emb.shape[0]}"
            )
        scores, ids = index.search(q[None].float(), min(k, len(index)))
        return ids[0], scores[0]
    scores = frame_emb @ q  # (N,)
    order = torch.sort(scores, descending=True, stable=True).indices[:k]
    return order, scores[order]
