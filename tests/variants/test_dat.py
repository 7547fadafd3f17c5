"""DAT against the official CVPR-2022 fixture, and the zero-offset invariants."""

import pytest
import torch
import torch.nn.functional as F

from mvk_tutorial.attention.dat import DeformableAttention, reference_points

TOL = dict(atol=1e-10, rtol=0)


def _official(d):
    m = DeformableAttention.from_official_config(d["config"]["ctor"]).double().eval()
    m.load_state_dict(d["state_dict"], strict=True)
    return m


def test_matches_official_fixture(official):
    d = official("dat")
    m = _official(d)
    assert m.grid == "official"
    x, out = d["inputs"]["x"], d["outputs"]
    assert x.shape[2] != x.shape[3]  # H != W
    raw = {}
    m.conv_offset.register_forward_hook(lambda mod, i, o: raw.setdefault("off", o))
    with torch.no_grad():
        y, pos, ref = m(x)
        G = m.n_groups
        B, C, H, W = x.shape
        xs = m.sample(x.reshape(B * G, C // G, H, W), pos.reshape(B * G, *pos.shape[2:]))
        bias = m.position_bias(pos.reshape(B * G, *pos.shape[2:]), H, W)
    torch.testing.assert_close(y, out["y"], **TOL)
    torch.testing.assert_close(pos, out["pos"], **TOL)
    torch.testing.assert_close(ref, out["reference"], **TOL)
    torch.testing.assert_close(raw["off"], out["offset_raw"], **TOL)
    torch.testing.assert_close(xs, out["x_sampled"], **TOL)
    torch.testing.assert_close(bias, out["attn_bias"], **TOL)


def _zero_offsets(m):
    with torch.no_grad():
        m.conv_offset[3].weight.zero_()  # raw offsets 0 -> tanh 0 -> offsets 0
    return m


@pytest.mark.parametrize(
    "ctor",
    [
        dict(q_size=(9, 14), n_heads=3, n_head_channels=8, n_groups=3, stride=1, stage_idx=3),
        dict(q_size=(10, 7), n_heads=4, n_head_channels=4, n_groups=2, stride=3, stage_idx=1),
    ],
)
def test_other_sizes_run_both_grids(ctor):
    for grid in ("official", "consistent"):
        m = DeformableAttention(**ctor, grid=grid).double()
        x = torch.randn(2, m.nc, *ctor["q_size"], dtype=torch.float64)
        y, pos, ref = m(x)
        assert y.shape == x.shape and torch.isfinite(y).all()
        assert pos.shape[:2] == (2, ctor["n_groups"])
        assert pos.shape[2:4] == m.key_grid_size(*ctor["q_size"])


@pytest.mark.parametrize("H,W", [(8, 6), (7, 10)])
def test_consistent_grid_zero_offsets_stride1_samples_the_input(H, W):
    m = _zero_offsets(DeformableAttention((H, W), n_heads=2, n_head_channels=4, stride=1, stage_idx=3).double())
    x = torch.randn(2, 8, H, W, dtype=torch.float64)
    ref = reference_points(H, W, torch.float64).expand(2, -1, -1, -1)
    torch.testing.assert_close(m.sample(x, ref), x, **TOL)
    # the official convention does NOT: the grid is contracted by (H - 1) / H
    off = DeformableAttention((H, W), n_heads=2, n_head_channels=4, grid="official")
    assert (off.sample(x, ref) - x).abs().max() > 0.05


def test_consistent_grid_zero_offsets_stride2_is_avg_pool():
    m = DeformableAttention((12, 8), n_heads=2, n_head_channels=4, stride=2, stage_idx=2).double()
    _zero_offsets(m)
    x = torch.randn(2, 8, 12, 8, dtype=torch.float64)
    raw = {}
    m.register_forward_hook(lambda mod, i, o: None)
    Hk, Wk = m.key_grid_size(12, 8)
    assert (Hk, Wk) == (6, 4)
    with torch.no_grad():
        q = m.proj_q(x)
        off = m.offsets(q.reshape(2, 8, 12, 8))
        pos = off + reference_points(Hk, Wk, torch.float64)
        torch.testing.assert_close(m.sample(x, pos), F.avg_pool2d(x, 2), **TOL)


def test_consistent_bias_equals_table_lookup_at_integer_displacements():
    H, W = 5, 7
    m = DeformableAttention((H, W), n_heads=2, n_head_channels=4, n_groups=1).double()
    with torch.no_grad():
        m.rpe_table.normal_()
    pos = reference_points(H, W, torch.float64)[None]  # keys on the pixel centres
    bias = m.position_bias(pos, H, W)[0]  # (heads, HW, HW)
    ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dy, dx = ys[:, None] - ys[None], xs[:, None] - xs[None]
    lookup = m.rpe_table[:, dy + H - 1, dx + W - 1]  # Swin-style integer lookup
    torch.testing.assert_close(bias, lookup, **TOL)
    off = DeformableAttention((H, W), n_heads=2, n_head_channels=4, grid="official").double()
    off.rpe_table = m.rpe_table
    assert (off.position_bias(pos, H, W)[0] - lookup).abs().max() > 1e-3


def test_consistent_stride1_zero_offsets_is_global_attention_with_rpb():
    H, W, h, d = 4, 6, 2, 4
    torch.manual_seed(0)
    m = _zero_offsets(DeformableAttention((H, W), n_heads=h, n_head_channels=d, stride=1, stage_idx=3).double())
    with torch.no_grad():
        m.rpe_table.normal_()
    x = torch.randn(2, h * d, H, W, dtype=torch.float64)
    with torch.no_grad():
        y, _, _ = m(x)
        tok = lambda conv: conv(x).view(2, h, d, H * W).transpose(-1, -2)  # (B, h, HW, d)
        q, k, v = tok(m.proj_q), tok(m.proj_k), tok(m.proj_v)
        ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        bias = m.rpe_table[:, ys[:, None] - ys[None] + H - 1, xs[:, None] - xs[None] + W - 1]
        attn = (q @ k.transpose(-1, -2) * d**-0.5 + bias).softmax(-1)
        out = (attn @ v).transpose(-1, -2).reshape(2, h * d, H, W)
        torch.testing.assert_close(y, m.proj_out(out), **TOL)


def test_official_crash_flags_work():
    x = torch.randn(1, 8, 6, 10, dtype=torch.float64)
    m = DeformableAttention((6, 10), n_heads=2, n_head_channels=4, stride=2, no_off=True, grid="official").double()
    y, pos, ref = m(x)
    assert torch.equal(pos, ref) and torch.isfinite(y).all()
    m = DeformableAttention((6, 10), n_heads=2, n_head_channels=4, stride=2, fixed_pe=True).double()
    y, pos, ref = m(x)
    assert m.rpe_table.shape == (2, 60, pos.shape[2] * pos.shape[3])
    m = DeformableAttention((6, 10), n_heads=2, n_head_channels=4, dwc_pe=True).double()
    assert torch.isfinite(m(x)[0]).all()


def test_offsets_get_gradients():
    m = DeformableAttention((6, 5), n_heads=2, n_head_channels=4, stride=1, stage_idx=3).double()
    x = torch.randn(1, 8, 6, 5, dtype=torch.float64)
    m(x)[0].square().sum().backward()
    assert m.conv_offset[3].weight.grad.abs().sum() > 0


def test_wrong_map_size_names_the_table():
    m = DeformableAttention((6, 5), n_heads=2, n_head_channels=4)
    with pytest.raises(ValueError, match="rpe_table"):
        m(torch.randn(1, 8, 7, 5))
