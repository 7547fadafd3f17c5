"""Attention rollout: how much each input token flows into each output token.

Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020,
arXiv:2005.00928, Sec. 3: "we model the residual connections ... A = 0.5 W_att + 0.5 I"
(rows renormalised), and "attention rollout ... recursively multiplying the attention
weights matrices in all the layers below": rollout(l) = A(l) rollout(l - 1).

Book: ch02 "Attention maps and rollout".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def attention_rollout(
    attentions: Sequence[Tensor] | Tensor,
    head_fusion: str = "mean",
    residual: bool = True,
) -> Tensor:
    """Roll attention weights up through the layers.

    Args:
        attentions: per layer (first to last), weights (B, heads, N, N).
        head_fusion: how heads are combined per layer: "mean", "max" or "min".
        residual: add the identity for the skip connection (0.5 A + 0.5 I).

    Returns:
        (B, N, N): row i is the share of every input token in output token i; rows
        sum to 1. For a ViT, ``rollout[:, 0, 1:]`` is the class token's map.

    Book: ch02 "Attention maps and rollout".
    """
    if len(attentions) == 0:
        raise ValueError("attentions: expected at least one layer")
    fuse = {
        "mean": lambda a: a.mean(1),
        "max": lambda a: a.amax(1),
        "min": lambda a: a.amin(1),
    }
    if head_fusion not in fuse:
        raise ValueError(f"head_fusion: expected mean, max or min, got {head_fusion!r}")
    result = None
    for attn in attentions:
        if attn.dim() != 4 or attn.shape[-1] != attn.shape[-2]:
            raise ValueError("attentions: expected (B, heads, N, N) per layer")
        a = fuse[head_fusion](attn)  # (B, N, N)
        if residual:
            eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
            a = 0.5 * a + 0.5 * eye
        a = a / a.sum(dim=-1, keepdim=True)  # rows sum to 1
        result = a if result is None else a @ result  # A(l) rollout(l - 1)
    return result
