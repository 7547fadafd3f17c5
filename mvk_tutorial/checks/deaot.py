"""Checks for the exercises of ch08 "Memory-based VOS and DeAOT".

``checks.window_attention(my_window_attention)``: DeAOT's short-term attention,
``my_window_attention(q, k, v, rel, max_dis) -> (B, h, w, C)`` with q, k (B, h, w, d)
(q already scaled), v (B, h, w, C) and rel (B, h, w, (2 max_dis + 1)^2) relative logits;
keys outside the image get no weight. The reference is
:func:`mvk_tutorial.vos.deaot.attention.local_attention_dense`.
"""

from __future__ import annotations

import torch

from mvk_tutorial.checks.core import case, check_function, seeded
from mvk_tutorial.vos.deaot.attention import local_attention_dense


def _window_cases():
    g = seeded(0)

    def rnd(*shape):
        return torch.randn(*shape, generator=g)

    cases = []
    for desc, (B, h, w, d, C, r) in {
        "3x4 map, radius 1 (3x3 window)": (1, 3, 4, 2, 3, 1),
        "5x6 map, radius 2: the window leaves the image at the borders": (
            2,
            5,
            6,
            4,
            5,
            2,
        ),
        "4x9 map, radius 7 (DeAOT's 15x15 window, larger than the map)": (
            1,
            4,
            9,
            8,
            6,
            7,
        ),
    }.items():
        ws = (2 * r + 1) ** 2
        cases.append(
            case(
                desc,
                rnd(B, h, w, d),
                rnd(B, h, w, d),
                rnd(B, h, w, C),
                rnd(B, h, w, ws),
                r,
            )
        )
    return cases


def window_attention(candidate) -> None:
    """Check ``window_attention(q, k, v, rel, max_dis) -> (B, h, w, C)``.

    Book: ch08, section "Short-term attention without a dense matrix".
    """
    check_function(
        "window_attention",
        candidate,
        local_attention_dense,
        _window_cases(),
        hint="pad K and V with zeros by max_dis, take the (2r+1)^2 shifted copies "
        "(offset index (dy+r)*(2r+1)+(dx+r)), logits = q.k + rel, set the logits of "
        "out-of-image keys to -inf (or -1e8) before the softmax over the window.",
        atol=1e-5,
        rtol=1e-5,
    )
