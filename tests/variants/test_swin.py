"""Swin against the official fixtures, and invariants against brute-force global attention."""

import pytest
import torch
import torch.nn.functional as F

from mvk_tutorial.attention.swin import (
    SwinTransformerBlock,
    WindowAttention,
    region_labels,
    shift_mask,
    window_partition,
    window_reverse,
)

TOL = dict(atol=1e-10, rtol=0)


def test_window_attention_matches_official(official):
    d = official("swin_window_attention")
    m = WindowAttention.from_official_config(d["config"]["ctor"]).double().eval()
    m.load_state_dict(d["state_dict"], strict=True)
    x, mask = d["inputs"]["x"], d["inputs"]["mask"]
    with torch.no_grad():
        y_mask, p_mask = m(x, mask=mask, return_attn=True)
        y_nomask, p_nomask = m(x, return_attn=True)
        torch.testing.assert_close(y_mask, d["outputs"]["y_mask"], **TOL)
        torch.testing.assert_close(y_nomask, d["outputs"]["y_nomask"], **TOL)
        torch.testing.assert_close(p_mask, d["outputs"]["attn_mask_probs"], **TOL)
        torch.testing.assert_close(p_nomask, d["outputs"]["attn_nomask_probs"], **TOL)
        torch.testing.assert_close(
            m.relative_position_bias(), d["outputs"]["relative_position_bias"], **TOL
        )
    # our shift mask is the official buffer for the same map, window and shift
    H, W = d["config"]["mask_map"]
    ws = d["config"]["ctor"]["window_size"]
    ours = shift_mask(H, W, ws, d["config"]["mask_shift"], dtype=torch.float64)
    assert torch.equal(ours, mask)


def test_shifted_block_matches_official(official):
    d = official("swin_block")
    m = SwinTransformerBlock.from_official_config(d["config"]["ctor"]).double().eval()
    m.load_state_dict(d["state_dict"], strict=True)
    with torch.no_grad():
        y, attn = m(d["inputs"]["x"], return_attn=True)
    torch.testing.assert_close(y, d["outputs"]["y"], **TOL)
    torch.testing.assert_close(attn, d["outputs"]["attn"], **TOL)


def test_official_window_clamp():
    blk = SwinTransformerBlock(16, 2, window_size=7, shift_size=3, input_resolution=(5, 9))
    assert (blk.window_size, blk.shift_size) == (5, 0)


@pytest.mark.parametrize("H,W,M", [(8, 12, 4), (6, 6, (2, 3))])
def test_partition_reverse_roundtrip(H, W, M):
    x = torch.randn(2, H, W, 5)
    win = window_partition(x, M)
    Mh, Mw = (M, M) if isinstance(M, int) else M
    assert win.shape == (2 * (H // Mh) * (W // Mw), Mh, Mw, 5)
    # window 1 of image 0 is the second block of the first row of windows
    assert torch.equal(win[1], x[0, :Mh, Mw : 2 * Mw])
    assert torch.equal(window_reverse(win, M, H, W), x)


def test_partition_rejects_non_multiple():
    with pytest.raises(ValueError, match="not a multiple"):
        window_partition(torch.zeros(1, 5, 8, 2), 4)


def _random_block(dim, heads, M, s, seed=0):
    torch.manual_seed(seed)
    blk = SwinTransformerBlock(dim, heads, M, s).double().eval()
    with torch.no_grad():
        for p in blk.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return blk


def _global_reference(blk, x, H, W, allowed, dy, dx):
    """Pre-norm block with attention over all H*W tokens, `allowed` (HW, HW) pairs and
    the bias of relative displacement (dy, dx) read from the block's table."""
    a = blk.attn
    B, L, C = x.shape
    h = a.num_heads
    y = blk.norm1(x)
    q, k, v = a.qkv(y).view(B, L, 3, h, C // h).permute(2, 0, 3, 1, 4)
    logits = (q * a.scale) @ k.transpose(-2, -1)  # (B, h, L, L)
    Mh, Mw = a.window_size
    idx = (dy + Mh - 1) * (2 * Mw - 1) + (dx + Mw - 1)
    ok = allowed & (dy.abs() < Mh) & (dx.abs() < Mw)
    bias = a.relative_position_bias_table[idx.clamp(0, a.relative_position_bias_table.shape[0] - 1)]
    logits = logits + bias.permute(2, 0, 1)
    logits = logits.masked_fill(~ok, float("-inf"))
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(B, L, C)
    x = x + a.proj(out)
    return x + blk.mlp(blk.norm2(x))


def _coords(H, W):
    ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    return ys, xs, ys[:, None] - ys[None], xs[:, None] - xs[None]


def test_one_window_no_shift_is_global_attention_plus_bias():
    H, W = 5, 7  # a (5, 7) window covering the whole map, H != W
    torch.manual_seed(0)
    blk = SwinTransformerBlock(16, 2, 7, 0).double().eval()
    blk.attn = WindowAttention(16, (H, W), 2).double().eval()
    with torch.no_grad():
        blk.attn.relative_position_bias_table.normal_(0, 1.0)
    x = torch.randn(2, H * W, 16, dtype=torch.float64)
    _, _, dy, dx = _coords(H, W)
    allowed = torch.ones(H * W, H * W, dtype=torch.bool)
    with torch.no_grad():
        ref = _global_reference(blk, x, H, W, allowed, dy, dx)
        y = blk.norm1(x)
        got = x + blk.attn(y)  # one window = the whole map
        got = got + blk.mlp(blk.norm2(got))
    torch.testing.assert_close(got, ref, **TOL)


@pytest.mark.parametrize("H,W,M,s", [(8, 12, 4, 2), (12, 8, 4, 1), (10, 13, 4, 2), (7, 9, 3, 1)])
def test_shifted_windows_equal_masked_global_attention(H, W, M, s):
    """SW-MSA (padded when needed) == attention over the un-rolled image where token i
    sees j iff they share a shifted window and a region label and j is a real token."""
    blk = _random_block(16, 2, M, s)
    x = torch.randn(2, H * W, 16, dtype=torch.float64)
    Hp, Wp = -(-H // M) * M, -(-W // M) * M
    ys, xs, dy, dx = _coords(H, W)
    ry, rx = (ys - s) % Hp, (xs - s) % Wp  # position after the cyclic shift
    win = (ry // M) * (Wp // M) + rx // M
    lab = region_labels(Hp, Wp, M, s)[ry, rx]
    allowed = (win[:, None] == win[None]) & (lab[:, None] == lab[None])
    with torch.no_grad():
        ref = _global_reference(blk, x, H, W, allowed, dy, dx)
        got = blk(x, H, W)
    torch.testing.assert_close(got, ref, **TOL)


def test_padded_path_equals_unpadded_where_both_apply():
    """A map that needs no padding gives the same output through the official-signature
    path (stored mask buffer) and the any-size path (mask built on the fly), and the
    padded tokens never change real outputs: a padded map's real outputs equal those of
    masked global attention (test above) and do not depend on the pad content."""
    torch.manual_seed(1)
    blk = _random_block(16, 2, 4, 2, seed=1)
    official = SwinTransformerBlock(16, 2, 4, 2, input_resolution=(8, 12)).double().eval()
    official.load_state_dict(blk.state_dict(), strict=False)
    x = torch.randn(2, 96, 16, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(official(x), blk(x, 8, 12), **TOL)
        # same weights, map 7x11 (padded to 8x12): real tokens attend only real tokens
        small = x.view(2, 8, 12, 16)[:, :7, :11].reshape(2, 77, 16)
        a = blk(small, 7, 11)
    assert torch.isfinite(a).all()
    # without the padding mask, padded zeros take part (the detection convention)
    blk.mask_padding = False
    with torch.no_grad():
        b = blk(small, 7, 11)
    assert (a - b).abs().max() > 1e-6


def test_detection_call_matches_torchvision():
    """The chapter-8 call (caller's mask, padding unmasked) still equals torchvision."""
    from torchvision.models.swin_transformer import SwinTransformerBlock as TVBlock

    torch.manual_seed(0)
    ours = SwinTransformerBlock(32, 4, 7, 3).eval()
    tv = TVBlock(32, 4, [7, 7], [3, 3], stochastic_depth_prob=0.0).eval()
    sd = {
        k.replace("mlp.fc1", "mlp.0").replace("mlp.fc2", "mlp.3"): v
        for k, v in ours.state_dict().items()
        if "relative_position_index" not in k
    }
    tv.load_state_dict(sd, strict=False)
    x = torch.randn(1, 13, 17, 32)
    with torch.no_grad():
        out = ours(x.reshape(1, -1, 32), 13, 17, shift_mask(14, 21, 7, 3)).view(1, 13, 17, 32)
        torch.testing.assert_close(out, tv(x), atol=1e-5, rtol=1e-5)
