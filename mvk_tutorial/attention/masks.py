"""Boolean attention masks (True = attend, PyTorch's convention).

Book: ch01, section "Masks".
"""

from __future__ import annotations

import torch
from torch import Tensor


def causal_mask(n_q: int, n_k: int | None = None, device=None) -> Tensor:
    """(n_q, n_k) boolean mask where query i may attend to keys j <= i.

    With n_k > n_q the queries are taken to be the *last* n_q positions (as when new
    tokens attend to a cache), so query i sees keys j <= i + n_k - n_q.

    Book: ch01, section "Masks".
    """
    n_k = n_q if n_k is None else n_k
    if n_q < 1 or n_k < 1:
        raise ValueError(f"causal_mask: expected n_q, n_k >= 1, got {n_q}, {n_k}")
    i = torch.arange(n_q, device=device)[:, None]  # (n_q, 1)
    j = torch.arange(n_k, device=device)[None, :]  # (1, n_k)
    return j <= i + (n_k - n_q)  # (n_q, n_k)


def padding_mask(lengths: Tensor | list[int], n_k: int | None = None) -> Tensor:
    """(B, 1, 1, n_k) boolean mask: key j of sequence b is real iff j < lengths[b].

    The two singleton dims broadcast over heads and queries, so the mask can be passed
    as ``attn_mask`` for scores of shape (B, heads, n_q, n_k).

    Book: ch01, section "Masks".
    """
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or (lengths < 0).any():
        raise ValueError("lengths: expected a 1-D list of non-negative lengths")
    n_k = int(lengths.max()) if n_k is None else n_k
    if (lengths > n_k).any():
        raise ValueError(f"lengths: expected every length <= n_k = {n_k}")
    keep = (
        torch.arange(n_k, device=lengths.device)[None, :] < lengths[:, None]
    )  # (B, n_k)
    return keep[:, None, None, :]  # (B, 1, 1, n_k)
