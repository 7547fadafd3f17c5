"""A-ViT's halting rule: the score from the first channel and one step of the recursion.

Shared by the model (``avit.py``) and its two token paths (``avit_paths.py``).

Book: ch05, section "Halting tokens".
"""

from __future__ import annotations

import torch
from torch import Tensor


def halting_score(tokens: Tensor, gate_scale: float, gate_center: float) -> Tensor:
    """h = sigmoid(gate_scale * e0 - gate_center) from the first channel: (B, N, C) -> (B, N).

    Figure 2 of the paper: "The first element of every token is reserved for halting
    score calculation, adding no computation overhead."

    Book: ch05, section "Halting tokens".
    """
    return torch.sigmoid(gate_scale * tokens[..., 0] - gate_center)


def halting_step(
    c: Tensor, R: Tensor, h: Tensor, eps: float
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One step of the halting recursion for live tokens (any shape, elementwise).

    c += h; a token whose c stays below 1 - eps contributes weight h and R -= h;
    a token that crosses 1 - eps contributes its remainder R and halts.
    Returns (new c, new R, weight of this block's output, halted-now mask).

    Book: ch05, section "The halting recursion".
    """
    c = c + h
    reached = c > 1 - eps
    weight = torch.where(reached, R, h)
    R = torch.where(reached, R, R - h)
    return c, R, weight, reached
