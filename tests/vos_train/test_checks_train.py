"""The ch08 identification / gated-propagation checks pass right answers and fail wrong,
NaN, None, wrongly typed and crashing answers with a hint."""

import math

import pytest
import torch
import torch.nn.functional as F

from mvk_tutorial import checks


def _id_right(mask, weight, bias, n):
    onehot = torch.cat([(mask == i).float() for i in range(n + 1)], 1)  # (B, n+1, H, W)
    emb = F.conv2d(onehot, weight[:, : n + 1], bias, stride=16, padding=8)
    return emb.flatten(2).permute(2, 0, 1)


def _gated_right(Q, K, V, U):
    q, k, v = Q.transpose(0, 1), K.transpose(0, 1), V.transpose(0, 1)  # (B, *, *)
    a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(Q.shape[-1]), -1)
    return (a @ v).transpose(0, 1) * U


def test_right_answers_pass(capsys):
    checks.id_tokens(_id_right)
    checks.gated_propagation(_gated_right)
    out = capsys.readouterr().out
    assert "PASSED id_tokens" in out and "PASSED gated_propagation" in out


WRONG_ID = {
    "all 11 channels of the bank but no background channel": lambda m, w, b, n: _id_right(
        m, torch.cat([w[:, 1:], w[:, :1]], 1), b, n),
    "columns first": lambda m, w, b, n: _id_right(m, w, b, n).view(
        *F.conv2d(torch.zeros(m.shape[0], 1, *m.shape[2:]), w[:, :1], None, 16, 8).shape[2:],
        m.shape[0], -1).transpose(0, 1).reshape(-1, m.shape[0], w.shape[0]),
    "NaN": lambda m, w, b, n: _id_right(m, w, b, n) * float("nan"),
    "None": lambda m, w, b, n: None,
    "numpy array": lambda m, w, b, n: _id_right(m, w, b, n).numpy(),
    "crash": lambda m, w, b, n: m @ w,
}


@pytest.mark.parametrize("name", list(WRONG_ID))
def test_wrong_id_tokens_fail_with_hint(name):
    with pytest.raises(AssertionError, match="id_tokens"):
        checks.id_tokens(WRONG_ID[name])


WRONG_GATED = {
    "no gate": lambda Q, K, V, U: _gated_right(Q, K, V, torch.ones_like(U)),
    "no scaling": lambda Q, K, V, U: _gated_right(Q * math.sqrt(Q.shape[-1]), K, V, U),
    "softmax over the queries": lambda Q, K, V, U: (torch.softmax(
        Q.transpose(0, 1) @ K.transpose(0, 1).transpose(1, 2) / math.sqrt(Q.shape[-1]), 1)
        @ V.transpose(0, 1)).transpose(0, 1) * U,
    "NaN": lambda Q, K, V, U: _gated_right(Q, K, V, U) + float("nan"),
    "None": lambda Q, K, V, U: None,
    "a number": lambda Q, K, V, U: 1.0,
    "crash": lambda Q, K, V, U: Q @ K,
}


@pytest.mark.parametrize("name", list(WRONG_GATED))
def test_wrong_gated_fail_with_hint(name):
    with pytest.raises(AssertionError, match="gated_propagation"):
        checks.gated_propagation(WRONG_GATED[name])


def test_not_a_function_fails():
    with pytest.raises(AssertionError, match="expected a function"):
        checks.id_tokens(None)
