"""The four token mixers of chapter 3 behind one interface, and their FLOP counts.

Every mixer maps an NCHW map (B, C, H, W) to (B, C, H, W), so receptive fields and costs
can be measured on the same inputs: :class:`GlobalMixer` (ViT), :class:`WindowMixer`
(Swin, the attention half of a block), :class:`DeformConvMixer` (3 x 3 deformable conv
with its offset conv) and :class:`DATMixer` (deformable attention). FLOPs count a
multiply-add as 2 (matmuls and convs; softmax, sampling and norms are not counted).

Book: ch03, section "Cost versus resolution".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mvk_tutorial.attention.dat import DeformableAttention
from mvk_tutorial.attention.deform_conv import DeformConv2d
from mvk_tutorial.attention.swin import WindowAttention, shift_mask as _shift_mask
from mvk_tutorial.attention.swin import window_partition as _partition
from mvk_tutorial.attention.swin import window_reverse as _reverse


class GlobalMixer(nn.Module):
    """qkv -> attention over all H*W tokens (SDPA) -> proj.

    Book: ch03, section "Cost versus resolution".
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        t = x.flatten(2).transpose(1, 2)  # (B, N, C)
        q, k, v = self.qkv(t).view(B, H * W, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, d)
        o = self.proj(o.transpose(1, 2).reshape(B, H * W, C))  # (B, N, C)
        return o.transpose(1, 2).reshape(B, C, H, W)

    def flops(self, H: int, W: int) -> int:
        N, C = H * W, self.proj.in_features
        return 8 * N * C * C + 4 * N * N * C


class WindowMixer(nn.Module):
    """Swin window attention (shifted when ``shift`` > 0); H, W multiples of the window.

    Book: ch03, section "Cost versus resolution".
    """

    def __init__(self, dim: int, heads: int, window: int = 7, shift: int = 0):
        super().__init__()
        self.window, self.shift = window, shift
        self.attn = WindowAttention(dim, window, heads)

    def forward(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        M, s = self.window, self.shift
        t = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        mask = None
        if s:
            t = torch.roll(t, (-s, -s), (1, 2))
            mask = _shift_mask(H, W, M, s, x.device, x.dtype)
        win = _partition(t, M).view(-1, M * M, C)  # (B * nW, M*M, C)
        t = _reverse(self.attn(win, mask).view(-1, M, M, C), M, H, W)  # (B, H, W, C)
        if s:
            t = torch.roll(t, (s, s), (1, 2))
        return t.permute(0, 3, 1, 2)

    def flops(self, H: int, W: int) -> int:
        N, C = H * W, self.attn.dim
        return 8 * N * C * C + 4 * N * self.window**2 * C


class DeformConvMixer(DeformConv2d):
    """3 x 3 deformable conv C -> C with its offset conv (DCNv1).

    Book: ch03, section "Cost versus resolution".
    """

    def __init__(self, dim: int, offset_std: float = 0.0):
        super().__init__(dim, dim, 3, padding=1)
        if offset_std:
            nn.init.normal_(self.offset_conv.weight, 0, offset_std)

    def flops(self, H: int, W: int) -> int:
        N, C = H * W, self.weight.shape[0]
        return 2 * N * C * C * 9 + 2 * N * C * 18 * 9

    def columns_bytes(self, B: int, H: int, W: int, itemsize: int = 4) -> int:
        """Size of the sampled columns tensor (B, C, 9, H*W): 9 times the input."""
        return B * self.weight.shape[1] * 9 * H * W * itemsize


class DATMixer(nn.Module):
    """Deformable attention with a key grid ``stride`` times coarser than the map.

    Book: ch03, section "Cost versus resolution".
    """

    def __init__(self, dim: int, heads: int, H: int, W: int, stride: int = 8,
                 groups: int = 1, stage_idx: int = 0, grid: str = "consistent"):
        super().__init__()
        self.attn = DeformableAttention((H, W), n_heads=heads, n_head_channels=dim // heads,
                                        n_groups=groups, stride=stride, stage_idx=stage_idx,
                                        grid=grid)

    def forward(self, x: Tensor) -> Tensor:
        return self.attn(x)[0]

    def flops(self, H: int, W: int) -> int:
        a = self.attn
        Hk, Wk = a.key_grid_size(H, W)
        N, ns, C, gc = H * W, Hk * Wk, a.nc, a.n_group_channels
        offset_net = 2 * ns * a.n_groups * gc * (a.kernel**2 + 2)
        return 4 * N * C * C + 4 * ns * C * C + 4 * N * ns * C + offset_net
