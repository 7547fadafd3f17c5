"""Slide Attention: the three neighbourhood gathers vs a brute-force loop, the official
fixture (LeapLabTHU/Slide-Transformer @ 6b1e1842), and the re-parameterisation."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mvk_tutorial.attention.slide import (
    IMPLS,
    SlideAttention,
    gather_neighbours,
    local_attention,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "slide" / "slide_official_reference.pt"


def brute_force_local_attention(q, k, v, ks):
    """Per-pixel loop: softmax over the k x k zero-padded neighbours of (y, x)."""
    B, h, d, H, W = q.shape
    r = ks // 2
    out = torch.zeros_like(q)
    for y in range(H):
        for x in range(W):
            keys, vals = [], []
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    yy, xx = y + dy, x + dx
                    inside = 0 <= yy < H and 0 <= xx < W
                    keys.append(k[..., yy, xx] if inside else torch.zeros_like(k[..., 0, 0]))
                    vals.append(v[..., yy, xx] if inside else torch.zeros_like(v[..., 0, 0]))
            K, V = torch.stack(keys, -1), torch.stack(vals, -1)  # (B, h, d, k^2)
            a = (q[..., y, x].unsqueeze(-1) * K).sum(2).softmax(-1)  # (B, h, k^2)
            out[..., y, x] = (a.unsqueeze(2) * V).sum(-1)
    return out


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("ks,H,W", [(3, 5, 7), (5, 6, 4), (1, 3, 3)])
def test_local_attention_matches_loop(impl, ks, H, W):
    g = torch.Generator().manual_seed(ks * 100 + H)
    q, k, v = (torch.randn(2, 3, 4, H, W, generator=g, dtype=torch.float64) for _ in range(3))
    ref = brute_force_local_attention(q, k, v, ks)
    out = local_attention(q, k, v, kernel_size=ks, impl=impl)
    assert out.shape == q.shape
    assert (out - ref).abs().max() < 1e-10


def test_gathers_agree_and_match_unfold_layout():
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64)
    ref = F.unfold(x, 3, padding=1).view(2, 3, 9, 6, 5)
    for impl in IMPLS:
        assert torch.equal(gather_neighbours(x, 3, impl), ref), impl
    # the centre neighbour (n = 4) is the map itself
    assert torch.equal(ref[:, :, 4], x)


def test_bad_arguments_raise():
    q = torch.randn(1, 1, 2, 3, 3)
    with pytest.raises(ValueError, match="impl"):
        local_attention(q, q, q, impl="fft")
    with pytest.raises(ValueError, match="kernel_size"):
        local_attention(q, q, q, kernel_size=2)
    with pytest.raises(ValueError, match="q, k, v"):
        local_attention(q, q[..., :2], q)


@pytest.fixture(scope="module")
def official():
    assert FIXTURE.is_file(), f"missing fixture {FIXTURE}"
    return torch.load(FIXTURE, weights_only=True)


def _load(official):
    m = SlideAttention.from_official_config(official["config"]["ctor"])
    m = m.double().eval()
    m.load_state_dict(official["state_dict"], strict=True)
    return m


def test_official_fixture_parity(official):
    m = _load(official)
    with torch.no_grad():
        y, attn = m(official["inputs"]["x"], return_attn=True)
    assert (y - official["outputs"]["y"]).abs().max() < 1e-10
    assert (attn - official["outputs"]["attn"]).abs().max() < 1e-10
    m.train()  # no dropout in the fixture: train mode gives the same output
    with torch.no_grad():
        y_train = m(official["inputs"]["x"])
    assert (y_train - official["outputs"]["y_train_mode"]).abs().max() < 1e-10


def test_official_keys_and_frozen_one_hot(official):
    m = _load(official)
    assert set(m.state_dict()) == set(official["state_dict"])
    assert not m.dep_conv.weight.requires_grad
    assert m.dep_conv.bias.requires_grad and m.dep_conv1.weight.requires_grad
    # a fresh module has exactly one-hot fixed kernels: the one-hot conv is unfold
    fresh = SlideAttention(dim=8, num_heads=2, input_resolution=(4, 3)).double()
    x = torch.randn(1, 4, 4, 3, dtype=torch.float64)
    conv = F.conv2d(x, fresh.dep_conv.weight, padding=1, groups=4)
    assert torch.equal(conv.view(1, 4, 9, 4, 3), F.unfold(x, 3, padding=1).view(1, 4, 9, 4, 3))


def test_reduces_to_local_attention_without_learned_branch():
    """With dep_conv1 = 0, zero biases and zero RPB, Slide = local attention."""
    torch.manual_seed(0)
    m = SlideAttention(dim=12, num_heads=3, input_resolution=(5, 4)).double().eval()
    with torch.no_grad():
        for p in (m.dep_conv1.weight, m.dep_conv1.bias, m.dep_conv.bias):
            p.zero_()
        m.relative_position_bias_table.zero_()
    x = torch.randn(2, 20, 12, dtype=torch.float64)
    B, N, C, h, d = 2, 20, 12, 3, 4
    qkv = m.qkv(x).transpose(1, 2).reshape(B, h, 3 * d, 5, 4)
    q, k, v = qkv[:, :, :d] * m.scale, qkv[:, :, d : 2 * d], qkv[:, :, 2 * d :]
    ref = brute_force_local_attention(q, k, v, 3).reshape(B, C, N).transpose(1, 2)
    with torch.no_grad():
        assert (m(x) - m.proj(ref)).abs().max() < 1e-10


def test_reparameterize_keeps_output(official):
    m = _load(official)
    x = official["inputs"]["x"]
    with torch.no_grad():
        before = m(x)
        m.reparameterize()
        after = m(x)
    assert m.dep_conv1 is None
    assert sum(isinstance(c, torch.nn.Conv2d) for c in m.modules()) == 1
    assert (after - before).abs().max() < 1e-10
    assert (after - official["outputs"]["y"]).abs().max() < 1e-10
    assert "dep_conv1.weight" not in m.state_dict()


def test_reparameterize_random_module_and_idempotent():
    torch.manual_seed(3)
    m = SlideAttention(dim=16, num_heads=2, input_resolution=(6, 3), ka=5).double()
    x = torch.randn(3, 18, 16, dtype=torch.float64)
    with torch.no_grad():
        before = m(x)
        m.reparameterize().reparameterize()
        assert (m(x) - before).abs().max() < 1e-10


def test_wrong_token_count_raises():
    m = SlideAttention(dim=8, num_heads=2, input_resolution=(4, 4))
    with pytest.raises(ValueError, match="expected"):
        m(torch.randn(1, 15, 8))
    with pytest.raises(ValueError, match="unknown"):
        SlideAttention.from_official_config({"dim": 8, "num_heads": 2, "window": 3})


def test_gradients_reach_learned_branch():
    m = SlideAttention(dim=8, num_heads=2, input_resolution=(4, 4))
    m(torch.randn(2, 16, 8)).sum().backward()
    assert m.dep_conv1.weight.grad.abs().sum() > 0
    assert m.relative_position_bias_table.grad.abs().sum() > 0
    assert m.dep_conv.weight.grad is None
