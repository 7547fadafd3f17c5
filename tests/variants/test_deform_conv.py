"""deform_conv2d from scratch against torchvision's compiled op (forward and backward)."""

import pytest
import torch
import torch.nn.functional as F
import torchvision

from mvk_tutorial.attention.deform_conv import DeformConv2d, bilinear_sample, deform_conv2d

CONFIGS = [
    # B, C, H, W, Cout, kh, kw, groups, offset_groups, stride, padding, dilation, v2
    (2, 4, 7, 9, 6, 3, 3, 1, 1, 1, 1, 1, False),
    (1, 4, 8, 5, 4, 3, 2, 2, 2, (2, 1), (1, 2), (1, 2), True),
    (2, 6, 6, 6, 3, 1, 1, 1, 3, 2, 0, 1, True),
]


def _inputs(cfg, seed=0):
    B, C, H, W, Co, kh, kw, g, go, s, p, d, v2 = cfg
    torch.manual_seed(seed)
    s2, p2, d2 = ((v, v) if isinstance(v, int) else v for v in (s, p, d))
    Ho = (H + 2 * p2[0] - d2[0] * (kh - 1) - 1) // s2[0] + 1
    Wo = (W + 2 * p2[1] - d2[1] * (kw - 1) - 1) // s2[1] + 1
    f64 = dict(dtype=torch.float64)
    x = torch.randn(B, C, H, W, **f64)
    off = torch.randn(B, 2 * go * kh * kw, Ho, Wo, **f64) * 2.0  # some leave the image
    w = torch.randn(Co, C // g, kh, kw, **f64)
    b = torch.randn(Co, **f64)
    m = torch.rand(B, go * kh * kw, Ho, Wo, **f64) if v2 else None
    return x, off, w, b, m, dict(stride=s, padding=p, dilation=d)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_forward_and_backward_match_torchvision(cfg):
    x, off, w, b, m, kw = _inputs(cfg)
    leaves = [t for t in (x, off, w, b, m) if t is not None]
    results = []
    for fn in (deform_conv2d, torchvision.ops.deform_conv2d):
        ins = [t.clone().requires_grad_() for t in leaves]
        args = ins + ([None] if m is None else [])
        y = fn(args[0], args[1], args[2], args[3], mask=args[4], **kw)
        grads = torch.autograd.grad((y * torch.cos(y)).sum(), ins)
        results.append((y, grads))
    (y0, g0), (y1, g1) = results
    torch.testing.assert_close(y0, y1, atol=1e-8, rtol=0)
    for a, c, name in zip(g0, g1, ["input", "offset", "weight", "bias", "mask"]):
        torch.testing.assert_close(a, c, atol=1e-8, rtol=0, msg=lambda s: f"grad {name}: {s}")


@pytest.mark.parametrize("cfg", CONFIGS)
def test_zero_offsets_equal_conv2d(cfg):
    x, off, w, b, m, kw = _inputs(cfg, seed=1)
    groups = x.shape[1] // w.shape[1]
    ours = deform_conv2d(x, torch.zeros_like(off), w, b, **kw)
    ref = F.conv2d(x, w, b, groups=groups, **kw)
    torch.testing.assert_close(ours, ref, atol=1e-10, rtol=0)


def test_bilinear_sample_matches_grid_sample():
    torch.manual_seed(0)
    img = torch.randn(2, 3, 5, 8, dtype=torch.float64)
    y = torch.rand(2, 40, dtype=torch.float64) * 8 - 1.5  # inside and outside
    x = torch.rand(2, 40, dtype=torch.float64) * 11 - 1.5
    grid = torch.stack([(x + 0.5) / 8 * 2 - 1, (y + 0.5) / 5 * 2 - 1], -1)[:, None]
    ref = F.grid_sample(img, grid, align_corners=False, padding_mode="zeros")[:, :, 0]
    torch.testing.assert_close(bilinear_sample(img, y, x), ref, atol=1e-12, rtol=0)


def test_integer_offset_on_identity_kernel_is_a_shift():
    x = torch.randn(1, 1, 6, 7, dtype=torch.float64)
    w = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    w[0, 0, 1, 1] = 1
    off = torch.zeros(1, 18, 6, 7, dtype=torch.float64)
    off[:, 8] = 1.0  # centre tap k = 4: channel 8 = dy
    y = deform_conv2d(x, off, w, padding=1)
    torch.testing.assert_close(y[0, 0, :-1], x[0, 0, 1:])
    assert torch.all(y[0, 0, -1] == 0)  # sampled below the image: zero


def test_module_starts_as_a_convolution_and_learns_offsets():
    torch.manual_seed(0)
    layer = DeformConv2d(4, 5, 3, padding=1, modulated=True)
    x = torch.randn(2, 4, 6, 6)
    ref = F.conv2d(x, layer.weight, layer.bias, padding=1) * 0.5  # mask sigmoid(0)
    torch.testing.assert_close(layer(x), ref, atol=1e-5, rtol=1e-5)
    layer(x).square().sum().backward()
    assert layer.offset_conv.weight.grad.abs().sum() > 0


def test_bad_offset_channels_are_named():
    with pytest.raises(ValueError, match="offset"):
        deform_conv2d(torch.zeros(1, 2, 5, 5), torch.zeros(1, 7, 5, 5), torch.zeros(2, 2, 3, 3), padding=1)
