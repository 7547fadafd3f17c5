"""DeAOT's CPU fast paths against plain PyTorch ops and the official formulations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mvk_tutorial.utils.traffic import TrafficCounter
from mvk_tutorial.vos.deaot import build_deaot
from mvk_tutorial.vos.deaot.attention import local_attention_dense, local_attention_windowed
from mvk_tutorial.vos.deaot.fused import conv2d
from mvk_tutorial.vos.deaot.gpm import GroupNorm1D
from mvk_tutorial.vos.deaot.switches import official_paths
from mvk_tutorial.vos.inference.transforms import label_from_probs

# (C_in, C_out, kernel, stride, padding, dilation, groups)
CONVS = [
    (16, 32, 1, 1, 0, 1, 1),
    (8, 24, 3, 1, 1, 1, 1),
    (12, 12, 3, 2, 1, 1, 12),  # depthwise, stride 2
    (12, 12, 3, 1, 2, 2, 12),  # depthwise, dilated
    (6, 10, 5, 2, 2, 1, 1),
]


def _reference(x, w, b, stride, padding, dilation, groups, act, residual):
    y = F.conv2d(x, w, b, stride, padding, dilation, groups)
    if residual is not None:
        y = y + residual
    return {None: y, "relu": torch.relu(y), "relu6": y.clamp(0, 6)}[act]


@pytest.mark.parametrize("spec", CONVS)
@pytest.mark.parametrize("act", [None, "relu", "relu6"])
@pytest.mark.parametrize("channels_last", [True, False])
def test_fused_conv_equals_conv_then_ops(spec, act, channels_last):
    cin, cout, k, s, p, d, g = spec
    gen = torch.Generator().manual_seed(cin * 7 + k)
    x = 3 * torch.randn(2, cin, 13, 17, generator=gen)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(cout, cin // g, k, k, generator=gen) / k
    b = torch.randn(cout, generator=gen)
    ref_shape = F.conv2d(x, w, b, s, p, d, g).shape
    for residual in (None, torch.randn(ref_shape, generator=gen)):
        with torch.inference_mode():
            got = conv2d(x, w, b, s, p, d, g, act, residual)
        want = _reference(x, w, b, s, p, d, g, act, residual)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_fused_conv_with_autograd_falls_back_and_differentiates():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 9, 9, generator=gen, requires_grad=True)
    w = torch.randn(6, 4, 3, 3, generator=gen, requires_grad=True)
    res = torch.randn(1, 6, 9, 9, generator=gen)
    conv2d(x, w, None, 1, 1, act="relu6", residual=res).sum().backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad = w.grad = None
    (F.conv2d(x, w, None, 1, 1) + res).clamp(0, 6).sum().backward()
    torch.testing.assert_close(gx, x.grad)
    torch.testing.assert_close(gw, w.grad)


def test_fused_conv_rejects_unknown_activation():
    with pytest.raises(ValueError, match="act"):
        conv2d(torch.zeros(1, 2, 4, 4), torch.zeros(2, 2, 1, 1), act="gelu")


@pytest.mark.parametrize("h,w,tile", [(5, 7, 8), (11, 19, 4), (31, 54, 8), (3, 30, 6)])
@pytest.mark.parametrize("grad", [False, True])
def test_both_windowed_paths_equal_the_dense_formulation(h, w, tile, grad):
    g = torch.Generator().manual_seed(h + w)
    q, k = torch.randn(2, h, w, 16, generator=g), torch.randn(2, h, w, 16, generator=g)
    v, rel = torch.randn(2, h, w, 24, generator=g), torch.randn(2, h, w, 225, generator=g)
    dense = local_attention_dense(q, k, v, rel, 7)
    if grad:  # the differentiable (square-tile) path, and its gradient
        v = v.requires_grad_(True)
        win = local_attention_windowed(q, k, v, rel, 7, tile)
        win.square().sum().backward()
        vd = v.detach().clone().requires_grad_(True)
        local_attention_dense(q, k, vd, rel, 7).square().sum().backward()
        torch.testing.assert_close(v.grad, vd.grad, atol=1e-4, rtol=1e-4)
    else:  # the column-band path
        with torch.inference_mode():
            win = local_attention_windowed(q, k, v, rel, 7, tile)
    torch.testing.assert_close(win.detach(), dense, atol=1e-5, rtol=1e-5)


def test_label_from_probs_is_argmax_with_first_index_on_ties():
    g = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(1, 4, 30, 40, generator=g), 1)
    p[0, 2, :5] = p[0, 1, :5] = 2.0  # ties between channels 1 and 2: argmax says 1
    p[0, :, 5:8] = 0.25  # all tied: 0
    got = label_from_probs(p)
    assert got.shape == (1, 1, 30, 40) and got.dtype == torch.long
    assert torch.equal(got, p.argmax(1, keepdim=True))
    assert (got[0, 0, :5] == 1).all() and (got[0, 0, 5:8] == 0).all()


def test_group_norm_on_tokens_equals_nn_group_norm():
    m = GroupNorm1D(64, 2)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        m.gn.weight.copy_(torch.randn(64, generator=g))
        m.gn.bias.copy_(torch.randn(64, generator=g))
    x = 5 * torch.randn(300, 3, 64, generator=g) + 2  # (N, B, C)
    want = m.gn(x.permute(1, 2, 0)).permute(2, 0, 1)  # on (B, C, N)
    torch.testing.assert_close(m(x), want, atol=1e-5, rtol=1e-5)


def test_fast_encoder_decoder_match_official_paths_and_follow_weight_changes():
    torch.manual_seed(0)
    model = build_deaot("deaot-t")
    x = torch.randn(1, 3, 65, 97)
    with torch.inference_mode():
        fast = model.encode_image(x)
        with official_paths(model):
            slow = model.encode_image(x)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # change a frozen BN (as load_state_dict would): the cached folded weights follow
    bn = model.encoder.features[1].conv[-1]
    with torch.no_grad():
        bn.running_var.mul_(4.0)
        bn.bias.add_(1.0)
    with torch.inference_mode():
        fast = model.encode_image(x)[-1]
        with official_paths(model):
            slow = model.encode_image(x)[-1]
    torch.testing.assert_close(fast, slow, atol=1e-4, rtol=1e-4)
    with torch.inference_mode():
        tokens = torch.randn(5 * 7, 1, 512)
        feats = model.encode_image(x)
        fast = model.decode(tokens, feats, 3)
        with official_paths(model):
            slow = model.decode(tokens, feats, 3)
    torch.testing.assert_close(fast, slow, atol=1e-4, rtol=1e-4)


def test_traffic_counter_counts_inputs_and_outputs_and_skips_views():
    a, b = torch.randn(1000), torch.randn(1000)
    with TrafficCounter() as tc:
        c = a + b  # 3 x 4000 bytes
        c.view(10, 100).t()  # views: nothing moved
        nn.functional.relu(c)  # 2 x 4000
    assert tc.bytes == 5 * 4000
    assert tc.by_op["add"] == 12000


def test_model_built_under_inference_mode_still_encodes():
    # inference tensors have no version counter: the folded weights are then not cached
    x = torch.randn(1, 3, 33, 49)
    with torch.inference_mode():
        model = build_deaot("deaot-t")
        fast = model.encode_image(x)[-1]
        with official_paths(model):
            slow = model.encode_image(x)[-1]
    torch.testing.assert_close(fast, slow, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "shape_a,shape_b", [((37, 16), (53, 16)), ((3, 37, 16), (3, 53, 16))]
)
def test_matmul_nt_equals_float64_product(shape_a, shape_b):
    from mvk_tutorial.vos.deaot.fused import matmul_nt

    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(shape_a, generator=gen), torch.randn(shape_b, generator=gen)
    want = (a.double() @ b.double().transpose(-1, -2)).float()
    with torch.inference_mode():
        fast = matmul_nt(a, b)  # oneDNN
        a_cols = a.transpose(-1, -2).contiguous().transpose(-1, -2)  # column-major
        strided = matmul_nt(a_cols, b)
    torch.testing.assert_close(fast, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(strided, want, atol=1e-5, rtol=1e-5)
    # with autograd: the plain path, and gradients flow
    a.requires_grad_(True)
    out = matmul_nt(a, b)
    torch.testing.assert_close(out.detach(), want, atol=1e-5, rtol=1e-5)
    out.sum().backward()
    want_grad = b.sum(-2, keepdim=True).expand_as(a)
    torch.testing.assert_close(a.grad, want_grad, atol=1e-5, rtol=1e-5)


def test_matmul_nt_rejects_mismatched_inner_dims():
    from mvk_tutorial.vos.deaot.fused import matmul_nt

    with pytest.raises(ValueError, match="matmul_nt"):
        matmul_nt(torch.zeros(4, 8), torch.zeros(5, 7))


@pytest.mark.parametrize("block_index", [2, 4])
def test_strip_mined_block_equals_whole_map(block_index, monkeypatch):
    """features.2 and .4 (stride 2, expansion 6) in strips of a few rows: the same
    numbers as the whole-map path and as the official conv -> BN -> ReLU6 order."""
    from mvk_tutorial.vos.deaot import encoders

    monkeypatch.setattr(encoders, "STRIP_BYTES", 1 << 14)  # strips of 1-2 rows here
    enc = build_deaot("deaot-t").encoder.eval()
    block = enc.features[block_index]
    gen = torch.Generator().manual_seed(block_index)
    for p in block.parameters():
        p.data.normal_(0, 0.3, generator=gen)
    for m in block.modules():
        if hasattr(m, "running_var"):
            m.running_mean.normal_(0, 0.2, generator=gen)
            m.running_var.uniform_(0.5, 1.5, generator=gen)
    cin = block.conv[0][0].in_channels
    for h, w in ((23, 31), (24, 17)):  # odd and even heights (bottom padding)
        x = torch.randn(1, cin, h, w, generator=gen).contiguous(
            memory_format=torch.channels_last
        )
        with torch.no_grad():
            assert encoders._strips_pay(block, x)
            strips = encoders.strip_mined(block, x)
            block.fold_bn = False
            official = block(x)
            block.fold_bn = True
            monkeypatch.setattr(encoders, "_strips_pay", lambda *a: False)
            whole = block(x)
            monkeypatch.undo()
            monkeypatch.setattr(encoders, "STRIP_BYTES", 1 << 14)
        assert strips.shape == official.shape
        assert torch.equal(strips, whole)
        torch.testing.assert_close(strips, official, atol=1e-5, rtol=1e-5)


def test_strips_only_for_large_stride_2_expansions():
    from mvk_tutorial.vos.deaot import encoders

    enc = build_deaot("deaot-t").encoder.eval()
    big = torch.zeros(1, 16, 241, 425).contiguous(memory_format=torch.channels_last)
    small = torch.zeros(1, 16, 31, 54).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert encoders._strips_pay(enc.features[2], big)  # 39 MB expanded map
        assert not encoders._strips_pay(enc.features[2], small)
        x3 = torch.zeros(1, 24, 121, 213).contiguous(memory_format=torch.channels_last)
        assert not encoders._strips_pay(enc.features[3], x3)  # stride 1
        x1 = torch.zeros(1, 32, 241, 425).contiguous(memory_format=torch.channels_last)
        assert not encoders._strips_pay(enc.features[1], x1)  # no expansion
    assert not encoders._strips_pay(enc.features[2], big.requires_grad_(True))


def test_inplace_softmax_equals_torch_softmax_and_keeps_autograd():
    from mvk_tutorial.vos.deaot.attention import softmax_

    gen = torch.Generator().manual_seed(2)
    x = 8 * torch.randn(3, 50, 77, generator=gen)
    want = torch.softmax(x, -1)
    with torch.inference_mode():
        y = x.clone()
        got = softmax_(y)
    assert got.data_ptr() == y.data_ptr()  # written over its input
    assert torch.equal(got, want)  # the same kernel: the same bits
    torch.testing.assert_close(got.sum(-1), torch.ones(3, 50))
    # with autograd: a new tensor, and the gradient of the official op
    xg = x.clone().requires_grad_(True)
    out = softmax_(xg)
    assert out.data_ptr() != xg.data_ptr()
    (out[..., 0]).sum().backward()
    ref = x.clone().requires_grad_(True)
    torch.softmax(ref, -1)[..., 0].sum().backward()
    torch.testing.assert_close(xg.grad, ref.grad)


@pytest.mark.parametrize("lead", [(29,), (7, 3), (5, 2, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_onednn_linear_equals_float64_affine_map(lead, with_bias):
    from mvk_tutorial.vos.deaot.fused import linear

    gen = torch.Generator().manual_seed(3)
    x = torch.randn(*lead, 24, generator=gen)
    w = torch.randn(40, 24, generator=gen)
    b = torch.randn(40, generator=gen) if with_bias else None
    want = x.double() @ w.double().t() + (0 if b is None else b.double())
    with torch.inference_mode():
        got = linear(x, w, b)  # oneDNN
        chunk = linear(torch.cat([x, x], -1)[..., 24:], w, b)  # a strided view
    assert got.shape == (*lead, 40)
    torch.testing.assert_close(got, want.float(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(chunk, want.float(), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="linear: input"):
        linear(x, w[:, :23], b)


def test_linear_module_keeps_nn_linear_keys_and_gradients():
    from mvk_tutorial.vos.deaot.fused import Linear

    torch.manual_seed(4)
    ref = nn.Linear(16, 8)
    fast = Linear(16, 8)
    fast.load_state_dict(ref.state_dict())  # same keys, same shapes
    assert set(fast.state_dict()) == {"weight", "bias"}
    x = torch.randn(6, 2, 16)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), ref(x), atol=1e-5, rtol=1e-5)
    fast(x).square().sum().backward()  # training: F.linear, gradients as nn.Linear's
    ref(x).square().sum().backward()
    torch.testing.assert_close(fast.weight.grad, ref.weight.grad, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("B", [1, 3])
def test_tokens_transposed_and_onednn_attention_equal_the_plain_formulas(B):
    from mvk_tutorial.vos.deaot.attention import global_attention, tokens_transposed

    gen = torch.Generator().manual_seed(5)
    N, L, d, C = 70, 45, 16, 24
    V = torch.randn(N, B, C, generator=gen)
    vt = tokens_transposed(V)
    assert vt.is_contiguous() and torch.equal(vt, V.permute(1, 2, 0))
    Q, K = torch.randn(L, B, d, generator=gen), torch.randn(N, B, d, generator=gen)
    logits = torch.einsum("lbd,nbd->bln", Q.double(), K.double()) * 0.25
    want = torch.einsum("bln,nbc->lbc", torch.softmax(logits, -1), V.double()).float()
    with torch.inference_mode():
        fast = global_attention(Q, K, V, 0.25)  # oneDNN products, in-place soft-max
        plain = global_attention(Q, K, V, 0.25, onednn=False)  # torch.bmm, torch.softmax
        chunked = global_attention(Q, K, V, 0.25, max_elements=N * B * 8)  # 6 chunks
    for got in (fast, plain, chunked):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_official_paths_switch_the_linear_layers_too():
    from mvk_tutorial.vos.deaot.fused import Linear

    model = build_deaot("deaot-t")
    layers = [m for m in model.modules() if isinstance(m, Linear)]
    assert len(layers) >= 8 and all(m.onednn for m in layers)
    assert not any(type(m) is nn.Linear for m in model.modules())  # none left out
    with official_paths(model):
        assert not any(m.onednn for m in layers)
    assert all(m.onednn for m in layers)
