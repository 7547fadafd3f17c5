"""The ch01 exercise checks pass the reference and catch typical wrong answers."""

import math

import pytest
import torch

from mvk_tutorial import checks
from mvk_tutorial.attention import causal_mask, merge_heads, padding_mask, split_heads
from mvk_tutorial.attention import scaled_dot_product_attention as ref_sdpa


def test_references_pass(capsys):
    checks.sdpa(lambda q, k, v, attn_mask=None: ref_sdpa(q, k, v, attn_mask))
    checks.split_heads(split_heads)
    checks.merge_heads(merge_heads)
    checks.causal_mask(causal_mask)
    checks.padding_mask(padding_mask)
    out = capsys.readouterr().out
    for name in ("sdpa", "split_heads", "merge_heads", "causal_mask", "padding_mask"):
        assert f"PASSED {name}:" in out


def _no_scale(q, k, v, attn_mask=None):
    return ref_sdpa(q, k, v, attn_mask, scale=1.0)


def _ignores_mask(q, k, v, attn_mask=None):
    return ref_sdpa(q, k, v)


def _naive_softmax(q, k, v, attn_mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if attn_mask is not None:
        s = (
            s.masked_fill(~attn_mask, -1e9)
            if attn_mask.dtype == torch.bool
            else s + attn_mask
        )
    e = torch.exp(s)  # overflows for large scores
    return (e / e.sum(-1, keepdim=True)) @ v


@pytest.mark.parametrize("wrong", [_no_scale, _ignores_mask, _naive_softmax])
def test_sdpa_check_catches_wrong_answers(wrong):
    with pytest.raises(AssertionError, match="Hint"):
        checks.sdpa(wrong)


def test_heads_checks_catch_wrong_layout():
    def split_wrong(x, h):  # heads taken as strided channels
        B, N, C = x.shape
        return x.reshape(B, N, C // h, h).permute(0, 3, 1, 2)

    def merge_wrong(x):  # forgets the transpose
        B, h, N, d = x.shape
        return x.reshape(B, N, h * d)

    with pytest.raises(AssertionError, match="split_heads"):
        checks.split_heads(split_wrong)
    with pytest.raises(AssertionError, match="merge_heads"):
        checks.merge_heads(merge_wrong)


def test_mask_checks_catch_wrong_answers():
    with pytest.raises(AssertionError, match="causal_mask"):
        checks.causal_mask(
            lambda n_q, n_k: torch.ones(n_q, n_k, dtype=torch.bool).tril(-1)
        )
    with pytest.raises(AssertionError, match="padding_mask"):
        checks.padding_mask(
            lambda lengths, n_k: torch.arange(n_k)[None] < lengths[:, None]
        )


def test_unanswered_exercise_raises_not_implemented():
    def todo(*a, **k):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.sdpa(todo)


def test_patchify_check_passes_reference_and_catches_wrong_order(capsys):
    def good(x, p):
        B, C, H, W = x.shape
        x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(B, (H // p) * (W // p), C * p * p)

    def channels_last(x, p):  # flattens (p1, p2, c): not the conv weight's order
        B, C, H, W = x.shape
        x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(B, (H // p) * (W // p), C * p * p)

    checks.patchify(good)
    assert "PASSED patchify: 3/3 cases" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="patchify"):
        checks.patchify(channels_last)
