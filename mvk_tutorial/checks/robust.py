"""Helpers for checks that must fail with a hint, never crash, on any wrong answer.

A reader's answer can be ``None``, the wrong type, NaN, the wrong shape, or a function
that raises. :func:`call` turns an exception inside the reader's code into an
``AssertionError`` with the hint (``NotImplementedError``, an unanswered exercise,
passes through unchanged), and :func:`as_float` / :func:`as_tensor` convert a result
or say why they cannot.

Book: ch00, section "Exercises and how they are checked".
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch


def fail(name: str, what: str, hint: str) -> AssertionError:
    """The ``AssertionError`` every check raises: what went wrong, then the hint.

    Book: ch00, section "Exercises and how they are checked".
    """
    return AssertionError(f"{name}: {what}\nHint: {hint}")


def call(name: str, fn: Callable, hint: str, *args, **kwargs) -> Any:
    """``fn(*args, **kwargs)``; an exception in it becomes an ``AssertionError``.

    Book: ch00, section "Exercises and how they are checked".
    """
    if not callable(fn):
        raise fail(name, f"expected a function or class, got {type(fn).__name__}", hint)
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as exc:  # the reader's code raised: report it as a wrong answer
        raise fail(
            name, f"your code raised {type(exc).__name__}: {exc}", hint
        ) from None


def as_float(name: str, value: Any, what: str, hint: str) -> float:
    """``value`` as a finite Python float, else an ``AssertionError`` naming ``what``.

    Book: ch00, section "Exercises and how they are checked".
    """
    if isinstance(value, bool) or value is None:
        raise fail(name, f"{what}: expected a number, got {value!r}", hint)
    if isinstance(value, (torch.Tensor, np.ndarray)):
        n = value.size if isinstance(value, np.ndarray) else value.numel()
        if n != 1:
            raise fail(name, f"{what}: expected one number, got an array", hint)
        value = value.item()
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise fail(
            name, f"{what}: expected a number, got {type(value).__name__}", hint
        )
    value = float(value)
    if not math.isfinite(value):
        raise fail(name, f"{what}: got {value} (not a finite number)", hint)
    return value


def as_tensor(
    name: str, value: Any, shape: tuple[int, ...], what: str, hint: str
) -> torch.Tensor:
    """``value`` as a float64 tensor of ``shape`` without NaN, else an ``AssertionError``.

    Book: ch00, section "Exercises and how they are checked".
    """
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise fail(name, f"{what}: expected a tensor, got {type(value).__name__}", hint)
    if tuple(value.shape) != tuple(shape):
        raise fail(
            name, f"{what}: shape {tuple(value.shape)}, expected {tuple(shape)}", hint
        )
    value = value.detach().to(torch.float64)
    if torch.isnan(value).any():
        raise fail(name, f"{what}: contains NaN", hint)
    return value
