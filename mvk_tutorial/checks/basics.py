"""Checks for the warm-up exercise of ch00 "How to use this book"."""

from __future__ import annotations

import torch

from mvk_tutorial.checks.core import case, check_function, seeded


def _softmax_cases():
    g = seeded(0)
    return [
        case("a 1-D vector", torch.randn(5, generator=g, dtype=torch.float64)),
        case("rows of a 3x4 matrix", torch.randn(3, 4, generator=g), dim=-1),
        case("columns of a 3x4 matrix", torch.randn(3, 4, generator=g), dim=0),
        case(
            "large logits (1000 + noise): needs the max subtracted",
            1000.0 + torch.randn(2, 6, generator=g, dtype=torch.float64),
            dim=-1,
        ),
        case(
            "very negative logits (-1000 + noise)",
            -1000.0 + torch.randn(4, 3, generator=g, dtype=torch.float64),
            dim=1,
        ),
    ]


def softmax(candidate) -> None:
    """Check a numerically stable ``softmax(x, dim=-1)`` against ``torch.softmax``.

    Book: ch00 "How to use this book" (the warm-up exercise).
    """
    check_function(
        "softmax",
        candidate,
        lambda x, dim=-1: torch.softmax(x, dim=dim),
        _softmax_cases(),
        hint="exp(x - max(x)) / sum(exp(x - max(x))) along `dim`; "
        "keepdim=True keeps the shapes broadcastable.",
        atol=1e-6,
        rtol=1e-6,
    )
