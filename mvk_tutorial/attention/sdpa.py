"""Scaled dot-product attention written out, the way chapter 1 teaches it.

Vaswani et al., "Attention Is All You Need", NeurIPS 2017, arXiv:1706.03762, Eq. (1):

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

Q is (n_q, d_k), K is (n_k, d_k), V is (n_k, d_v) and the result is (n_q, d_v), for
any number of leading (batch, head) dimensions. The package's fast path calls
``torch.nn.functional.scaled_dot_product_attention`` instead; the tests check that the
two agree (float64 to 1e-12, float32 to 1e-5), masks included.

Masks follow PyTorch's convention:

* a **boolean** mask says which (query, key) pairs take part: ``True`` = attend,
  ``False`` = the score becomes -inf before the softmax;
* a **float** mask is *added* to the scores (0 = keep, -inf = drop, anything else = a bias).

A query row whose keys are all masked has no distribution to normalise. We return a
row of zero weights and a zero output for it (a "safe" softmax), which is what
``F.scaled_dot_product_attention`` returns in PyTorch >= 2.5 and what the tests check.

Book: ch01, section "Queries, keys and values".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def stable_softmax(scores: Tensor, dim: int = -1) -> Tensor:
    """Softmax that subtracts the row maximum and maps fully masked rows to zeros.

    ``exp(x - max x) / sum exp(x - max x)`` never overflows; where a row is all -inf
    the maximum is replaced by 0 and the empty sum by 1, so the row becomes 0, not NaN.

    Book: ch01, section "A numerically stable softmax".
    """
    row_max = scores.amax(dim=dim, keepdim=True)
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
    e = torch.exp(scores - row_max)  # exp(-inf) = 0 for masked scores
    total = e.sum(dim=dim, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))


def _check_inputs(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor) or t.dim() < 2:
            raise ValueError(f"{name}: expected a tensor (..., n, d) with >= 2 dims")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k: expected the same last dim d_k, got {q.shape[-1]} and {k.shape[-1]}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v: expected the same number of keys n_k, got {k.shape[-2]} and "
            f"{v.shape[-2]}"
        )
    if attn_mask is not None:
        n_q, n_k = q.shape[-2], k.shape[-2]
        if (
            attn_mask.dim() < 2
            or attn_mask.shape[-2] not in (1, n_q)
            or (attn_mask.shape[-1] not in (1, n_k))
        ):
            raise ValueError(
                f"attn_mask: expected a shape broadcastable to (..., {n_q}, {n_k}), "
                f"got {tuple(attn_mask.shape)}"
            )


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    return_weights: bool = False,
    *,
    scale: float | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """softmax(Q K^T / sqrt(d_k) + mask) V, from scratch.

    Args:
        q: queries (..., n_q, d_k).
        k: keys (..., n_k, d_k).
        v: values (..., n_k, d_v).
        attn_mask: boolean (True = attend) or additive float mask, broadcastable to
            (..., n_q, n_k).
        dropout_p: dropout on the attention weights (applied whenever > 0, as in
            ``F.scaled_dot_product_attention``).
        return_weights: also return the weights (..., n_q, n_k) that multiplied V
            (after dropout, as ``nn.MultiheadAttention`` returns them).
        scale: the factor on the scores; default 1 / sqrt(d_k).

    Returns:
        The output (..., n_q, d_v), and the weights if ``return_weights``.

    Book: ch01, section "Queries, keys and values".
    """
    _check_inputs(q, k, v, attn_mask)
    # "We suspect that for large values of d_k, the dot products grow large in
    # magnitude ... To counteract this effect, we scale the dot products by 1/sqrt(d_k)."
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., n_q, d_k) x (..., d_k, n_k)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask.to(scores.dtype)
    weights = stable_softmax(scores, dim=-1)  # (..., n_q, n_k), rows sum to 1 (or 0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p, training=True)
    out = weights @ v  # (..., n_q, n_k) x (..., n_k, d_v) -> (..., n_q, d_v)
    return (out, weights) if return_weights else out


def attention_flops(n_q: int, n_k: int, d_k: int, d_v: int | None = None) -> int:
    """FLOPs of one head's two matmuls: 2 n_q n_k d_k (QK^T) + 2 n_q n_k d_v (AV).

    A multiply-add counts as 2 FLOPs; softmax and scaling are not counted. For
    n_q = n_k = n and d_k = d_v = d this is 4 n^2 d.

    Book: ch01, section "Cost: time and memory grow with $n^2$".
    """
    d_v = d_k if d_v is None else d_v
    return 2 * n_q * n_k * d_k + 2 * n_q * n_k * d_v
