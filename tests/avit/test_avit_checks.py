"""The ch05 check accepts an independent answer and rejects wrong, NaN, None, mistyped."""

import pytest
import torch

from mvk_tutorial import checks


def _answer(h, eps, strict=True, force_last=True):
    L, N = h.shape
    weights = torch.zeros(L, N, dtype=h.dtype)
    depth = torch.zeros(N, dtype=torch.long)
    for n in range(N):
        c, R = 0.0, 1.0
        for layer in range(L):
            s = 1.0 if (layer == L - 1 and force_last) else float(h[layer, n])
            c += s
            if (c > 1 - eps) if strict else (c >= 1 - eps) or layer == L - 1:
                weights[layer, n], depth[n] = R, layer + 1
                break
            weights[layer, n] = s
            R -= s
    return weights, depth


def test_answer_passes(capsys):
    checks.halting_recursion(_answer)
    assert "PASSED halting_recursion: 4/4" in capsys.readouterr().out


def _no_remainder(h, eps):
    w, d = _answer(h, eps)
    for n in range(h.shape[1]):  # uses h instead of R at the halting block
        layer = int(d[n]) - 1
        w[layer, n] = 1.0 if layer == h.shape[0] - 1 else h[layer, n]
    return w, d


@pytest.mark.parametrize(
    "wrong",
    [
        _no_remainder,
        lambda h, eps: (_answer(h, eps)[0], _answer(h, eps)[1] - 1),  # 0-based depth
        lambda h, eps: (torch.full_like(h, float("nan")), _answer(h, eps)[1]),
        lambda h, eps: None,
        lambda h, eps: _answer(h, eps)[0],
        lambda h, eps: (_answer(h, eps)[0].tolist(), _answer(h, eps)[1]),
    ],
)
def test_wrong_answers_fail_with_hint(wrong):
    with pytest.raises(AssertionError, match="Hint|expected"):
        checks.halting_recursion(wrong)
