"""The ch04 checks accept correct answers and reject wrong, NaN, None and mistyped ones."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mvk_tutorial import checks


def _unfold_answer(q, k, v, ks, scale=1.0):
    B, h, d, H, W = q.shape
    kk = F.unfold(k.reshape(B * h, d, H, W), ks, padding=ks // 2).view(B, h, d, ks * ks, H, W)
    vv = F.unfold(v.reshape(B * h, d, H, W), ks, padding=ks // 2).view(B, h, d, ks * ks, H, W)
    a = ((q.unsqueeze(3) * kk).sum(2) * scale).softmax(2)
    return (a.unsqueeze(2) * vv).sum(3)


def test_unfold_answer_passes(capsys):
    checks.local_attention_unfold(_unfold_answer)
    assert "PASSED local_attention_unfold: 3/3" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong",
    [
        lambda q, k, v, ks: _unfold_answer(q, k, v, ks, scale=q.shape[2] ** -0.5),  # scaled
        lambda q, k, v, ks: v,  # no attention
        lambda q, k, v, ks: torch.full_like(q, float("nan")),
        lambda q, k, v, ks: None,
        lambda q, k, v, ks: q.numpy(),
        lambda q, k, v, ks: _unfold_answer(q, k, v, ks)[..., :-1],
    ],
)
def test_unfold_wrong_answers_fail_with_hint(wrong):
    with pytest.raises(AssertionError, match="Hint"):
        checks.local_attention_unfold(wrong)


def _merge(a, b):
    m = nn.Conv2d(a.in_channels, a.out_channels, a.kernel_size, padding=a.padding, groups=a.groups)
    with torch.no_grad():
        m.weight.copy_(a.weight + b.weight)
        m.bias.copy_(a.bias + b.bias)
    return m


def _merge_weights_only(a, b):
    m = _merge(a, b)
    with torch.no_grad():
        m.bias.copy_(a.bias)  # forgets the second bias
    return m


def _nan_merge(a, b):
    m = _merge(a, b)
    with torch.no_grad():
        m.weight.fill_(float("nan"))
    return m


def test_merge_answer_passes(capsys):
    checks.merge_depthwise(_merge)
    assert "PASSED merge_depthwise: 2/2" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong",
    [_merge_weights_only, _nan_merge, lambda a, b: None, lambda a, b: a.weight + b.weight,
     lambda a, b: nn.Conv2d(a.in_channels, a.out_channels, 1, groups=a.groups)],
)
def test_merge_wrong_answers_fail_with_hint(wrong):
    with pytest.raises(AssertionError, match="Hint"):
        checks.merge_depthwise(wrong)


def test_not_a_function():
    with pytest.raises(AssertionError):
        checks.merge_depthwise(42)
    with pytest.raises(AssertionError):
        checks.local_attention_unfold(None)
