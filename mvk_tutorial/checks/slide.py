"""Checks for the exercises of ch04 "Slide Attention".

* ``checks.local_attention_unfold(my_local_attention)``:
  ``my_local_attention(q, k, v, kernel_size) -> (B, heads, d, H, W)`` with q, k, v of
  shape (B, heads, d, H, W); logits q . k (no scaling), softmax over the k^2
  neighbours, zero keys/values outside the image. The reference is
  :func:`mvk_tutorial.attention.slide.local_attention` (``impl="im2col"``).
* ``checks.merge_depthwise(my_merge)``: ``my_merge(conv_a, conv_b) -> nn.Conv2d``,
  one convolution whose output equals ``conv_a(x) + conv_b(x)``; judged on outputs.

Book: ch04, section "Exercises".
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from mvk_tutorial.checks.core import case, check_function, seeded


def _attention_cases():
    g = seeded(4)
    cases = []
    for desc, (B, h, d, H, W, ks) in {
        "1 head, 4x5 map, k=3": (1, 1, 2, 4, 5, 3),
        "2 images, 2 heads, 6x3 map (H != W), k=3": (2, 2, 3, 6, 3, 3),
        "5x7 map, k=5: windows leave the image at every border": (1, 3, 4, 5, 7, 5),
    }.items():
        q, k, v = (torch.randn(B, h, d, H, W, generator=g, dtype=torch.float64) for _ in range(3))
        cases.append(case(desc, q, k, v, ks))
    return cases


def local_attention_unfold(candidate) -> None:
    """Check ``local_attention(q, k, v, kernel_size) -> (B, heads, d, H, W)``.

    Book: ch04, section "Exercises".
    """
    from mvk_tutorial.attention.slide import local_attention

    check_function(
        "local_attention_unfold",
        candidate,
        lambda q, k, v, ks: local_attention(q, k, v, ks, impl="im2col"),
        _attention_cases(),
        hint=(
            "fold the heads into the batch, F.unfold(k, kernel_size, padding=kernel_size "
            "// 2) gives (B*heads, d*k^2, H*W) with the channel first (c*k^2 + n); view it "
            "as (B, heads, d, k^2, H, W), take (q.unsqueeze(3) * k).sum(2), softmax over "
            "the k^2 axis, and sum the weighted values over that axis. No 1/sqrt(d) "
            "scaling, and keep the zero-padded neighbours in the softmax."
        ),
        atol=1e-10,
        rtol=1e-10,
    )


def _merge_cases():
    g = seeded(5)
    cases = []
    for desc, (C, mult, ks, H, W) in {
        "depthwise 3x3, 2 channels, 9 outputs per channel (Slide's shape)": (2, 9, 3, 5, 4),
        "depthwise 5x5, 3 channels, 25 outputs per channel": (3, 25, 5, 6, 7),
    }.items():
        convs = []
        for _ in range(2):
            conv = nn.Conv2d(C, C * mult, ks, padding=ks // 2, groups=C).double()
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g))
                conv.bias.copy_(torch.randn(conv.bias.shape, generator=g))
            convs.append(conv)
        x = torch.randn(2, C, H, W, generator=g, dtype=torch.float64)
        cases.append((desc, convs[0], convs[1], x))
    return cases


def merge_depthwise(candidate) -> None:
    """Check ``merge(conv_a, conv_b) -> nn.Conv2d`` with conv(x) == conv_a(x) + conv_b(x).

    Book: ch04, section "Exercises".
    """
    hint = (
        "build one nn.Conv2d with the same in/out channels, kernel size, padding and "
        "groups, and copy in conv_a.weight + conv_b.weight and conv_a.bias + conv_b.bias "
        "(a convolution is linear in its weights; both biases count)."
    )
    if not callable(candidate):
        raise AssertionError(f"merge_depthwise: expected a function, got {type(candidate)}")
    cases = _merge_cases()
    for i, (desc, a, b, x) in enumerate(cases, start=1):
        with torch.no_grad():
            expected = a(x) + b(x)
        where = f"merge_depthwise: case {i}/{len(cases)} ({desc})"
        try:
            merged = candidate(copy.deepcopy(a), copy.deepcopy(b))
        except Exception as exc:  # the reader's code failed: report it, never crash
            raise AssertionError(
                f"{where}: your function raised {type(exc).__name__}: {exc}\nHint: {hint}"
            ) from None
        if not isinstance(merged, nn.Conv2d):
            raise AssertionError(f"{where}: expected an nn.Conv2d, got {type(merged).__name__}\nHint: {hint}")
        try:
            with torch.no_grad():
                got = merged.double()(x)
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)  # fp32 convs ok
        except (AssertionError, RuntimeError) as exc:
            raise AssertionError(f"{where}: the merged conv's output is wrong: {exc}\nHint: {hint}") from None
    print(f"PASSED merge_depthwise: {len(cases)}/{len(cases)} cases")
