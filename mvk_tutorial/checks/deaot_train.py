"""Checks for the ch08 exercises on identification and gated propagation.

``checks.id_tokens(my_id_tokens)``: ``my_id_tokens(mask, weight, bias, num_objects)``
-> (h*w, B, C), the identity bank (a conv with kernel 17, stride 16, padding 8) applied
to the one-hot mask of ids 0..num_objects, as tokens.

``checks.gated_propagation(my_gated)``: ``my_gated(Q, K, V, U)`` -> (L, B, C),
single-head attention ``softmax(Q K^T / sqrt(d)) V`` multiplied elementwise by the gate
``U`` (tokens of shape (N, B, C)).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mvk_tutorial.checks.core import case, check_function, seeded
from mvk_tutorial.vos.deaot.attention import global_attention
from mvk_tutorial.vos.deaot.identity import one_hot_mask


def _safe(candidate, name):
    """Turn a crash of the reader's function into an AssertionError with its cause."""
    if not callable(candidate):
        raise AssertionError(f"{name}: expected a function, got {type(candidate).__name__}")

    def call(*args, **kwargs):
        try:
            out = candidate(*args, **kwargs)
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001 - report any crash as a failed check
            raise AssertionError(
                f"{name}: your function raised {type(exc).__name__}: {exc}"
            ) from None
        if isinstance(out, torch.Tensor) and out.is_floating_point() and not torch.isfinite(out).all():
            raise AssertionError(f"{name}: the result contains NaN or inf")
        return out

    return call


def _id_tokens_reference(mask, weight, bias, num_objects):
    k = num_objects + 1
    emb = F.conv2d(one_hot_mask(mask, k), weight[:, :k], bias, 16, 8)  # (B, C, h, w)
    B, C, h, w = emb.shape
    return emb.view(B, C, h * w).permute(2, 0, 1)  # (h*w, B, C)


def _id_cases():
    g = seeded(0)
    cases = []
    for desc, (B, H, W, n, C) in {
        "one 33x49 frame, 2 objects": (1, 33, 49, 2, 8),
        "two 49x65 frames, 3 objects (one absent from the second frame)": (2, 49, 65, 3, 6),
    }.items():
        mask = torch.randint(0, n + 1, (B, 1, H, W), generator=g)
        if B > 1:
            mask[1][mask[1] == n] = 0
        weight = torch.randn(C, 11, 17, 17, generator=g) / 17
        bias = torch.randn(C, generator=g)
        cases.append(case(desc, mask, weight, bias, n))
    return cases


def id_tokens(candidate) -> None:
    """Check ``id_tokens(mask, weight, bias, num_objects) -> (h*w, B, C)``.

    Book: ch08, section "Exercises".
    """
    check_function(
        "id_tokens",
        _safe(candidate, "id_tokens"),
        _id_tokens_reference,
        _id_cases(),
        hint="one-hot the ids 0..num_objects into num_objects+1 channels (channel 0 = "
        "background), convolve with weight[:, :num_objects+1], stride 16, padding 8, "
        "then reshape (B, C, h, w) -> (h*w, B, C) (rows first).",
        atol=1e-4,
        rtol=1e-4,
    )


def _gated_reference(Q, K, V, U):
    return global_attention(Q, K, V, 1.0 / math.sqrt(Q.shape[-1])) * U


def _gated_cases():
    g = seeded(1)
    cases = []
    for desc, (L, N, B, d, C) in {
        "6 queries, 6 memory tokens": (6, 6, 1, 4, 5),
        "5 queries, 12 memory tokens (two memory frames), batch 2": (5, 12, 2, 8, 6),
    }.items():
        cases.append(case(desc, torch.randn(L, B, d, generator=g), torch.randn(N, B, d, generator=g),
                          torch.randn(N, B, C, generator=g), torch.rand(L, B, C, generator=g)))
    return cases


def gated_propagation(candidate) -> None:
    """Check ``gated_propagation(Q, K, V, U) -> (L, B, C)``.

    Book: ch08, section "Exercises".
    """
    check_function(
        "gated_propagation",
        _safe(candidate, "gated_propagation"),
        _gated_reference,
        _gated_cases(),
        hint="logits Q K^T over the memory tokens, scaled by 1/sqrt(d) with d = Q's last "
        "dim; softmax over the memory axis; weighted sum of V; then multiply by U "
        "elementwise. Mind the token layout (N, B, C): batch is the middle axis.",
        atol=1e-5,
        rtol=1e-5,
    )
