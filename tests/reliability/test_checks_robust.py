"""Every exercise check fails with a hint on a bad answer: never crashes, never passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mvk_tutorial import checks

CHECKS = [n for n in checks.__all__ if n not in ("Case", "case", "check_function")]


def _raises(*a, **k):
    raise TypeError("unsupported operand")


BAD_ANSWERS = {
    "returns None": lambda *a, **k: None,
    "returns a string": lambda *a, **k: "abc",
    "returns NaN": lambda *a, **k: float("nan"),
    "returns a NaN tensor": lambda *a, **k: torch.tensor(float("nan")),
    "returns a list of None": lambda *a, **k: [None, None],
    "raises TypeError": _raises,
}


@pytest.mark.parametrize("name", CHECKS)
@pytest.mark.parametrize("bad", list(BAD_ANSWERS))
def test_bad_answer_fails_with_a_hint(name, bad):
    check = getattr(checks, name)
    with pytest.raises(AssertionError, match="Hint|expected"):
        check(BAD_ANSWERS[bad])


@pytest.mark.parametrize("name", CHECKS)
def test_non_callable_answer_fails(name):
    with pytest.raises(AssertionError):
        getattr(checks, name)(42)


def test_iou_with_nan_on_empty_masks_fails():
    def naive(gt, pred):  # 0 / 0 = NaN when both masks are empty
        with np.errstate(invalid="ignore"):
            return np.logical_and(gt, pred).sum() / np.logical_or(gt, pred).sum()

    with pytest.raises(AssertionError, match="both masks empty"):
        checks.iou(naive)


def test_iou_right_answer_passes(capsys):
    def good(gt, pred):
        union = np.logical_or(gt, pred).sum()
        return 1.0 if union == 0 else np.logical_and(gt, pred).sum() / union

    checks.iou(good)
    assert "PASSED iou" in capsys.readouterr().out


def test_fixed_rate_catches_the_drift_of_a_rounded_step():
    def drifting(n, fps, every):
        return list(range(0, n, round(fps * every)))

    with pytest.raises(AssertionError, match="Hint"):
        checks.fixed_rate(drifting)


def test_not_implemented_passes_through():
    def todo(*a, **k):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.iou(todo)
