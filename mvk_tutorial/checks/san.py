"""Checks for the exercises of ch06 "The side adapter network"."""

from __future__ import annotations

import copy

import torch

from mvk_tutorial.checks.core import _compare, case, seeded
from mvk_tutorial.attention.san_clip import sos_attention_mask as ref_sos_attention_mask

HINT = (
    "the sequence is [SOS x Q, CLS, L patches]. Start from zeros of shape (B, heads, "
    "Q+1+L, Q+1+L); put -100 in every SOS column (:Q) for every row, then 0 back on the "
    "SOS diagonal (each SOS token sees itself); -100 from the SOS rows to the CLS column "
    "(Q); and the bias itself in the SOS rows' patch columns (Q+1:). CLS and patch rows "
    "keep 0 on CLS and patches. Do not change the input bias in place."
)


def _reference(attn_bias: torch.Tensor) -> torch.Tensor:

    return ref_sos_attention_mask(attn_bias, attn_bias.shape[2])


def _cases():
    g = seeded(6)
    return [
        case(
            "B=2, heads=3, Q=4 SOS tokens, L=6 patches",
            torch.randn(2, 3, 4, 6, generator=g, dtype=torch.float64),
        ),
        case("one SOS token, one head", torch.randn(1, 1, 1, 5, generator=g)),
        case("one patch", torch.randn(3, 2, 3, 1, generator=g, dtype=torch.float64)),
        case(
            "large biases (a trained SAN)",
            40 * torch.randn(1, 2, 5, 12, generator=g, dtype=torch.float64),
        ),
    ]


def sos_attention_mask(candidate) -> None:
    """Check ``sos_mask(attn_bias (B, heads, Q, L)) -> (B, heads, Q+1+L, Q+1+L)``.

    Book: ch06, section "Exercise: the SOS attention mask".
    """
    name = "sos_attention_mask"
    if not callable(candidate):
        raise AssertionError(
            f"{name}: expected a function, got {type(candidate).__name__}\nHint: {HINT}"
        )
    cases = _cases()
    for i, c in enumerate(cases, start=1):
        expected = _reference(*copy.deepcopy(c.args))
        args = copy.deepcopy(c.args)
        try:
            got = candidate(*args)
        except NotImplementedError:
            raise
        except Exception as exc:  # a crash in the answer is a wrong answer
            raise AssertionError(
                f"{name}: case {i}/{len(cases)} ({c.description}) raised "
                f"{type(exc).__name__}: {exc}\nHint: {HINT}"
            ) from None
        try:
            if not torch.equal(args[0], c.args[0]):
                raise AssertionError("the input bias was changed in place")
            if isinstance(got, torch.Tensor) and got.dtype != expected.dtype:
                raise AssertionError(
                    f"dtype {got.dtype}, expected {expected.dtype} (the bias's)"
                )
            _compare(got, expected, atol=1e-6, rtol=1e-6)
        except AssertionError as exc:
            raise AssertionError(
                f"{name}: case {i}/{len(cases)} ({c.description}) is wrong: {exc}\nHint: {HINT}"
            ) from None
    print(f"PASSED {name}: {len(cases)}/{len(cases)} cases")
