"""Check for the exercise of ch05 "A-ViT: adaptive tokens".

``checks.halting_recursion(my_act)``: ``my_act(h, eps) -> (weights, depth)`` where
h (L, N) holds the halting score of N tokens after each of L blocks (the last row is
treated as 1, whatever it holds), ``weights`` (L, N) is the weight of each block's
output in the token's final value (h while the cumulative sum stays at or below
1 - eps, the remainder R at the first block where it exceeds 1 - eps, 0 afterwards)
and ``depth`` (N,) the 1-based block where the token halted, as a long tensor. The
reference runs :func:`mvk_tutorial.attention.avit.halting_step` block by block.

Book: ch05, section "Exercises".
"""

from __future__ import annotations

import torch

from mvk_tutorial.checks.core import case, check_function, seeded


def _reference(h: torch.Tensor, eps: float):
    from mvk_tutorial.attention.avit import halting_step

    L, N = h.shape
    c, R = torch.zeros(N, dtype=h.dtype), torch.ones(N, dtype=h.dtype)
    live = torch.ones(N, dtype=torch.bool)
    weights, depth = torch.zeros(L, N, dtype=h.dtype), torch.ones(N, dtype=torch.long)
    for layer in range(L):
        score = torch.ones(N, dtype=h.dtype) if layer == L - 1 else h[layer]
        c2, R2, w, reached = halting_step(c, R, score, eps)
        weights[layer] = w * live
        depth += (live & ~reached).long()
        c, R, live = c2, torch.where(live, R2, R), live & ~reached
    return weights, depth


def _cases():
    g = seeded(6)
    return [
        case("2 blocks, 3 tokens", torch.rand(2, 3, generator=g, dtype=torch.float64), 0.01),
        case(
            "5 blocks, 8 tokens, small scores (most tokens reach the last block)",
            0.2 * torch.rand(5, 8, generator=g, dtype=torch.float64),
            0.01,
        ),
        case(
            "4 blocks: a token with h = 0.995 halts at block 1 (1 - eps = 0.99)",
            torch.tensor([[0.995, 0.5, 0.1], [0.2, 0.3, 0.95], [0.9, 0.1, 0.0], [0.0, 0.0, 0.0]],
                         dtype=torch.float64),
            0.01,
        ),
        case(
            "6 blocks, eps = 0.1",
            torch.rand(6, 10, generator=g, dtype=torch.float64) ** 2,
            0.1,
        ),
    ]


def halting_recursion(candidate) -> None:
    """Check ``act(h, eps) -> (weights (L, N), depth (N,) long)``.

    Book: ch05, section "Exercises".
    """
    check_function(
        "halting_recursion",
        candidate,
        _reference,
        _cases(),
        hint=(
            "keep c (cumulative score, starts at 0) and R (remainder, starts at 1) per "
            "token. At block l use h = 1 if l is the last block; c += h; if c > 1 - eps "
            "the weight is R and the token halts (depth = l + 1, later weights 0); "
            "otherwise the weight is h and R -= h. The weights of a token sum to 1."
        ),
        atol=1e-10,
        rtol=1e-10,
    )
