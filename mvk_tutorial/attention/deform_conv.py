"""Deformable convolution (v1 and v2) from scratch: bilinear sampling + one GEMM.

"Deformable Convolutional Networks", Dai et al., ICCV 2017 (v1),
https://arxiv.org/abs/1703.06211, and "Deformable ConvNets v2: More Deformable, Better
Results", Zhu et al., CVPR 2019 (v2, the modulation mask), https://arxiv.org/abs/1811.11168.

Same signature and layouts as ``torchvision.ops.deform_conv2d``: offset (B, 2 * Go * kh *
kw, Ho, Wo) with channel 2k = dy and 2k + 1 = dx of tap k (row-major over the kernel),
grouped by offset group first; mask (B, Go * kh * kw, Ho, Wo). The sampled "columns"
tensor (B, C, kh * kw, Ho * Wo) is what costs memory: kh * kw times the input.

Book: ch03, section "Deformable convolution".
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{name}: expected an int or a pair, got {v!r}")
    return v


def bilinear_sample(img: Tensor, y: Tensor, x: Tensor) -> Tensor:
    """Sample img (B, C, H, W) at real pixel coordinates y, x (B, P), zero outside.

    Pixel (i, j) has its centre at y = i, x = j. The value is the weighted sum of the
    four neighbours floor/ceil, with weights (1 - |dy|)(1 - |dx|); neighbours outside the
    image count as zeros. Returns (B, C, P).

    "x(p) = sum_q G(q, p) x(q), G(q, p) = g(q_x, p_x) g(q_y, p_y), g(a, b) = max(0, 1 - |a - b|)"

    Book: ch03, section "Deformable convolution".
    """
    B, C, H, W = img.shape
    flat = img.reshape(B, C, H * W)
    y0, x0 = torch.floor(y), torch.floor(x)
    out = img.new_zeros(B, C, y.shape[1])
    for dy in (0, 1):
        for dx in (0, 1):
            yi, xi = y0 + dy, x0 + dx
            w = (1 - (y - yi).abs()) * (1 - (x - xi).abs())  # (B, P)
            inside = (yi >= 0) & (yi <= H - 1) & (xi >= 0) & (xi <= W - 1)
            idx = (yi.clamp(0, H - 1) * W + xi.clamp(0, W - 1)).long()  # (B, P)
            vals = torch.gather(flat, 2, idx[:, None, :].expand(B, C, -1))  # (B, C, P)
            out = out + vals * (w * inside)[:, None, :]
    return out


def sampling_positions(
    offset: Tensor, kernel: tuple[int, int], stride, padding, dilation
) -> tuple[Tensor, Tensor]:
    """Absolute sampling rows/cols (B, Go, K, Ho, Wo) of every tap: the regular grid
    p0 + pn plus the learned offsets ("p0 + pn + delta pn").

    Book: ch03, section "Deformable convolution".
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    B, _, Ho, Wo = offset.shape
    K = kh * kw
    off = offset.view(B, -1, K, 2, Ho, Wo)  # (B, Go, K, (dy, dx), Ho, Wo)
    dev, dt = offset.device, offset.dtype
    ky, kx = torch.meshgrid(
        torch.arange(kh, device=dev, dtype=dt), torch.arange(kw, device=dev, dtype=dt),
        indexing="ij",
    )
    oy = torch.arange(Ho, device=dev, dtype=dt) * sh - ph  # (Ho,)
    ox = torch.arange(Wo, device=dev, dtype=dt) * sw - pw  # (Wo,)
    base_y = oy.view(1, Ho, 1) + (ky.reshape(K) * dh).view(K, 1, 1)  # (K, Ho, 1)
    base_x = ox.view(1, 1, Wo) + (kx.reshape(K) * dw).view(K, 1, 1)  # (K, 1, Wo)
    return base_y + off[:, :, :, 0], base_x + off[:, :, :, 1]  # (B, Go, K, Ho, Wo)


def deform_columns(
    input: Tensor, offset: Tensor, kernel, stride=1, padding=0, dilation=1, mask=None
) -> Tensor:
    """The sampled columns (B, C, K, Ho * Wo): tap k of every output position, each
    input channel read at its offset group's positions (times the v2 mask).

    Book: ch03, section "Deformable convolution".
    """
    kernel = _pair(kernel, "kernel")
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    dilation = _pair(dilation, "dilation")
    B, C, H, W = input.shape
    K = kernel[0] * kernel[1]
    if offset.shape[1] % (2 * K):
        raise ValueError(
            f"offset: {offset.shape[1]} channels, expected a multiple of 2*kh*kw = {2 * K}"
        )
    Go = offset.shape[1] // (2 * K)
    if C % Go:
        raise ValueError(f"offset: {Go} offset groups do not divide {C} input channels")
    Ho, Wo = offset.shape[-2:]
    py, px = sampling_positions(offset, kernel, stride, padding, dilation)
    grouped = input.reshape(B * Go, C // Go, H, W)
    cols = bilinear_sample(
        grouped, py.reshape(B * Go, K * Ho * Wo), px.reshape(B * Go, K * Ho * Wo)
    )  # (B * Go, C/Go, K * Ho * Wo)
    cols = cols.view(B, Go, C // Go, K, Ho * Wo)
    if mask is not None:
        if mask.shape[1] != Go * K:
            raise ValueError(f"mask: {mask.shape[1]} channels, expected Go*kh*kw = {Go * K}")
        cols = cols * mask.reshape(B, Go, 1, K, Ho * Wo)  # DCNv2 modulation
    return cols.reshape(B, C, K, Ho * Wo)


def deform_conv2d(
    input: Tensor,
    offset: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    mask: Tensor | None = None,
) -> Tensor:
    """Deformable convolution, same signature and layouts as torchvision's op.

    "y(p0) = sum_{pn in R} w(pn) * x(p0 + pn + delta pn) * delta m_k" (v2; v1 without
    the modulation delta m). Groups come from the weight shape, offset groups from the
    offset channels. Returns (B, C_out, Ho, Wo).

    Book: ch03, section "Deformable convolution".
    """
    Cout, Cin_g, kh, kw = weight.shape
    B, C = input.shape[:2]
    if C % Cin_g:
        raise ValueError(f"weight: {Cin_g} input channels per group do not divide {C}")
    groups = C // Cin_g
    Ho, Wo = offset.shape[-2:]
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    dilation = _pair(dilation, "dilation")
    H, W = input.shape[-2:]
    exp_h = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    exp_w = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if (Ho, Wo) != (exp_h, exp_w):
        raise ValueError(f"offset: spatial size {(Ho, Wo)}, expected {(exp_h, exp_w)}")
    cols = deform_columns(input, offset, (kh, kw), stride, padding, dilation, mask)
    cols = cols.reshape(B, groups, Cin_g * kh * kw, Ho * Wo)  # (B, g, Cin/g * K, L)
    w = weight.reshape(groups, Cout // groups, Cin_g * kh * kw)  # (g, Cout/g, Cin/g * K)
    out = torch.einsum("gok,bgkl->bgol", w, cols).reshape(B, Cout, Ho, Wo)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


class DeformConv2d(nn.Module):
    """Deformable conv layer with its own offset (and, for v2, mask) predictor.

    The offset conv starts at zero, so a fresh layer is a plain convolution: "the
    offsets are obtained by applying a convolutional layer over the same input feature
    map". ``modulated=True`` adds the DCNv2 mask (sigmoid, starting at 0.5).

    Book: ch03, section "Deformable convolution".
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size=3,
        stride=1,
        padding=1,
        dilation=1,
        groups: int = 1,
        offset_groups: int = 1,
        bias: bool = True,
        modulated: bool = False,
    ) -> None:
        super().__init__()
        kh, kw = _pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kh, kw))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        K = kh * kw
        n_out = (3 if modulated else 2) * offset_groups * K
        self.offset_conv = nn.Conv2d(
            in_channels, n_out, (kh, kw), stride, padding, dilation
        )
        nn.init.zeros_(self.offset_conv.weight)
        nn.init.zeros_(self.offset_conv.bias)
        self.modulated, self.n_offset = modulated, 2 * offset_groups * K

    def forward(self, x: Tensor) -> Tensor:
        o = self.offset_conv(x)  # (B, 2 Go K [+ Go K], Ho, Wo)
        offset, mask = o[:, : self.n_offset], None
        if self.modulated:
            mask = o[:, self.n_offset :].sigmoid()
        return deform_conv2d(
            x, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask
        )
