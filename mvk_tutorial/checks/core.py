"""The machinery every exercise check uses.

A check calls the reader's function and the package's reference on small seeded
cases, compares them with stated tolerances, and either prints one fixed line
(``PASSED name: n/n cases``, stable enough for nbval to compare) or raises an
``AssertionError`` that says which case failed and gives a hint.

Book: ch00 "How to use this book" (section "Exercises and how they are checked").
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch


@dataclass
class Case:
    """One seeded input: positional ``args``, keyword ``kwargs`` and a description."""

    args: tuple
    kwargs: dict
    description: str


def case(description: str, *args, **kwargs) -> Case:
    """Build a :class:`Case` (``case("3x4 input", x, dim=-1)``)."""
    return Case(args=args, kwargs=kwargs, description=description)


def _compare(got: Any, expected: Any, atol: float, rtol: float) -> None:
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise AssertionError(
                f"expected a sequence of {len(expected)} items, got {type(got).__name__}"
            )
        for g, e in zip(got, expected):
            _compare(g, e, atol, rtol)
        return
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            raise AssertionError(f"expected a tensor, got {type(got).__name__}")
        if tuple(got.shape) != tuple(expected.shape):
            raise AssertionError(
                f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
            )
        if expected.dtype in (torch.bool, torch.long, torch.int32):
            if not torch.equal(got.to(expected.dtype), expected):
                raise AssertionError("values differ from the expected integer values")
            return
        torch.testing.assert_close(
            got.to(expected.dtype), expected, atol=atol, rtol=rtol, equal_nan=False
        )
        return
    if isinstance(expected, float):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            try:
                import numpy as np

                if not isinstance(got, np.number):
                    raise TypeError
                got = float(got)
            except TypeError:
                raise AssertionError(
                    f"expected a number, got {type(got).__name__} {got!r:.60}"
                ) from None
        if not math.isfinite(float(got)) and math.isfinite(expected):
            raise AssertionError(f"got {got}, expected {expected} (a finite number)")
        # written so that NaN fails: NaN compares False with everything
        if not abs(float(got) - expected) <= atol + rtol * abs(expected):
            raise AssertionError(f"got {got}, expected {expected}")
        return
    if got != expected:
        raise AssertionError(f"got {got!r}, expected {expected!r}")


def check_function(
    name: str,
    candidate: Callable,
    reference: Callable,
    cases: Sequence[Case],
    hint: str,
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> None:
    """Compare ``candidate`` with ``reference`` on every case.

    Inputs are deep-copied for each call, so a function that changes its inputs in
    place cannot spoil the reference. Prints ``PASSED name: n/n cases`` on success;
    raises ``AssertionError`` with the failing case and ``hint`` otherwise, also when
    the answer raises, returns None, a string, NaN or the wrong type (never a crash,
    never a pass). ``NotImplementedError`` (an unanswered exercise) passes through.
    """
    if not callable(candidate):
        raise AssertionError(f"{name}: expected a function, got {type(candidate)}")
    for i, c in enumerate(cases, start=1):
        expected = reference(*copy.deepcopy(c.args), **copy.deepcopy(c.kwargs))
        try:
            got = candidate(*copy.deepcopy(c.args), **copy.deepcopy(c.kwargs))
        except NotImplementedError:
            raise
        except Exception as exc:  # the answer (or converting it) failed: a hint, no crash
            raise AssertionError(
                f"{name}: case {i}/{len(cases)} ({c.description}): your function "
                f"raised {type(exc).__name__}: {exc}\n"
                f"Hint: {hint}"
            ) from None
        try:
            try:
                _compare(got, expected, atol, rtol)
            except (TypeError, ValueError, RuntimeError, AttributeError) as exc:
                raise AssertionError(
                    f"the answer has the wrong type or shape "
                    f"({type(got).__name__}: {exc})"
                ) from None
        except AssertionError as exc:
            raise AssertionError(
                f"{name}: case {i}/{len(cases)} ({c.description}) is wrong: {exc}\n"
                f"Hint: {hint}"
            ) from None
    print(f"PASSED {name}: {len(cases)}/{len(cases)} cases")


def seeded(seed: int) -> torch.Generator:
    """A CPU generator for reproducible check inputs."""
    return torch.Generator().manual_seed(seed)
