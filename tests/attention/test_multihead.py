"""MultiHeadAttention / Attention against torch.nn.MultiheadAttention; fused == manual."""

import pytest
import torch
from torch import nn

from mvk_tutorial.attention import config
from mvk_tutorial.attention.multihead import (
    Attention,
    MultiHeadAttention,
    merge_heads,
    split_heads,
)


def _pair(dim=16, heads=4, bias=True, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    ref = (
        nn.MultiheadAttention(dim, heads, bias=bias, batch_first=True).to(dtype).eval()
    )
    with torch.no_grad():  # non-zero biases so they are really tested
        for p in ref.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ours = MultiHeadAttention(dim, heads, bias=bias).to(dtype).eval()
    ours.load_state_dict(ref.state_dict())
    return ref, ours


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_self_attention_matches_torch(fused, bias):
    ref, ours = _pair(bias=bias)
    ours.fused_attn = fused
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    expected, w_ref = ref(x, x, x, need_weights=True)
    out, _ = ours(x)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=1e-12)
    out_w, w = ours(x, need_weights=True)
    torch.testing.assert_close(out_w, expected, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(w, w_ref, atol=1e-12, rtol=1e-12)


def test_cross_attention_with_masks_matches_torch():
    ref, ours = _pair()
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 5, 16, generator=g, dtype=torch.float64)
    kv = torch.randn(2, 8, 16, generator=g, dtype=torch.float64)
    keep = torch.rand(5, 8, generator=g) > 0.3
    keep[:, 0] = True  # no fully masked rows here (torch MHA returns NaN for them)
    real = torch.ones(2, 8, dtype=torch.bool)
    real[1, 6:] = False
    # PyTorch's nn.MultiheadAttention uses True = masked out: invert ours.
    expected, w_ref = ref(
        q, kv, kv, attn_mask=~keep, key_padding_mask=~real, average_attn_weights=False
    )
    for fused in (True, False):
        ours.fused_attn = fused
        out, _ = ours(q, kv, kv, attn_mask=keep, key_padding_mask=real)
        torch.testing.assert_close(out, expected, atol=1e-12, rtol=1e-12)
    out, w = ours(
        q,
        kv,
        kv,
        attn_mask=keep,
        key_padding_mask=real,
        need_weights=True,
        average_attn_weights=False,
    )
    torch.testing.assert_close(w, w_ref, atol=1e-12, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
def test_additive_mask_combined_with_padding():
    ref, ours = _pair()
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    bias = torch.randn(6, 6, dtype=torch.float64)
    real = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    expected, _ = ref(x, x, x, attn_mask=bias, key_padding_mask=~real)
    for fused in (True, False):
        ours.fused_attn = fused
        out, _ = ours(x, attn_mask=bias, key_padding_mask=real)
        torch.testing.assert_close(out, expected, atol=1e-12, rtol=1e-12)


def test_float32_fast_path_agrees_with_teaching_path():
    _, ours = _pair(dim=64, heads=8, dtype=torch.float32)
    x = torch.randn(4, 50, 64)
    ours.fused_attn = True
    fast, _ = ours(x)
    ours.fused_attn = False
    slow, _ = ours(x)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def test_split_merge_heads_round_trip_and_layout():
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).reshape(2, 3, 8)
    h = split_heads(x, 4)
    assert h.shape == (2, 4, 3, 2)
    # head i holds channels [2i, 2i + 1] of every token
    assert torch.equal(h[1, 2, 0], x[1, 0, 4:6])
    assert torch.equal(merge_heads(h), x)
    with pytest.raises(ValueError, match="num_heads"):
        split_heads(x, 3)


def test_timm_attention_equals_torch_mha_with_mapped_weights():
    torch.manual_seed(0)
    dim, heads = 24, 3
    ref = nn.MultiheadAttention(dim, heads, batch_first=True).double().eval()
    attn = Attention(dim, heads, qkv_bias=True).double().eval()
    with torch.no_grad():
        attn.qkv.weight.copy_(ref.in_proj_weight)
        attn.qkv.bias.copy_(ref.in_proj_bias + 0.1)
        ref.in_proj_bias.add_(0.1)
        attn.proj.load_state_dict(ref.out_proj.state_dict())
    x = torch.randn(2, 10, dim, dtype=torch.float64)
    expected, w_ref = ref(x, x, x, average_attn_weights=False)
    for fused in (True, False):
        attn.fused_attn = fused
        torch.testing.assert_close(attn(x), expected, atol=1e-12, rtol=1e-12)
    _, w = attn(x, return_weights=True)
    torch.testing.assert_close(w, w_ref, atol=1e-12, rtol=1e-12)


def test_self_attention_is_permutation_equivariant():
    _, ours = _pair()
    x = torch.randn(1, 9, 16, dtype=torch.float64)
    perm = torch.randperm(9)
    out, _ = ours(x)
    torch.testing.assert_close(ours(x[:, perm])[0], out[:, perm])


def test_every_parameter_gets_a_gradient():
    for m in (MultiHeadAttention(16, 4), Attention(16, 4, qkv_bias=True)):
        x = torch.randn(2, 5, 16)
        y = m(x)
        (y[0] if isinstance(y, tuple) else y).sum().backward()
        assert all(
            p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters()
        )


def test_fused_switch_default(monkeypatch):
    monkeypatch.setenv(config.ENV_VAR, "0")
    config.set_fused_attn(None)
    assert Attention(8, 2).fused_attn is False
    monkeypatch.setenv(config.ENV_VAR, "1")
    assert MultiHeadAttention(8, 2).fused_attn is True
    config.set_fused_attn(False)
    try:
        assert Attention(8, 2).fused_attn is False
    finally:
        config.set_fused_attn(None)
    monkeypatch.setenv(config.ENV_VAR, "maybe")
    with pytest.raises(ValueError, match=config.ENV_VAR):
        config.use_fused_attn()


def test_bad_dim_raises():
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(10, 3)
