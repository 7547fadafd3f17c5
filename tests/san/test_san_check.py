"""The ch06 exercise check: passes a right answer, fails every wrong one with a hint."""

import pytest
import torch

from mvk_tutorial import checks


def _right(bias):
    B, h, Q, L = bias.shape
    n = Q + 1 + L
    m = torch.zeros(B, h, n, n, dtype=bias.dtype)
    for i in range(n):  # brute force, one entry at a time
        for j in range(n):
            if j < Q and i != j:
                m[:, :, i, j] = -100.0
            elif i < Q and j == Q:
                m[:, :, i, j] = -100.0
            elif i < Q and j > Q:
                m[:, :, i, j] = bias[:, :, i, j - Q - 1]
    return m


def test_right_answer_passes(capsys):
    checks.sos_attention_mask(_right)
    assert "PASSED sos_attention_mask: 4/4" in capsys.readouterr().out


def _minus_inf(bias):
    m = _right(bias)
    return m.masked_fill(m == -100.0, float("-inf"))


def _no_diagonal(bias):
    m = _right(bias)
    Q = bias.shape[2]
    m[:, :, range(Q), range(Q)] = -100.0
    return m


def _cls_visible(bias):
    m = _right(bias)
    m[:, :, : bias.shape[2], bias.shape[2]] = 0.0
    return m


def _transposed(bias):
    return _right(bias).transpose(-1, -2)


def _in_place(bias):
    m = _right(bias.clone())
    bias.zero_()
    return m


def _crash(bias):
    raise IndexError("oops")


WRONG = [
    _minus_inf,
    _no_diagonal,
    _cls_visible,
    _transposed,
    _in_place,
    _crash,
    lambda b: None,
    lambda b: _right(b) * float("nan"),
    lambda b: _right(b).tolist(),
    lambda b: _right(b).float() if b.dtype == torch.float64 else _right(b).double(),
    lambda b: _right(b)[0],
]


@pytest.mark.parametrize("answer", WRONG)
def test_wrong_answers_fail_with_a_hint(answer):
    with pytest.raises(AssertionError, match="Hint"):
        checks.sos_attention_mask(answer)


def test_not_a_function_fails_with_a_hint():
    with pytest.raises(AssertionError, match="Hint"):
        checks.sos_attention_mask(None)
