"""Deformable attention (DAT): a few keys per group, moved by learned offsets.

"Vision Transformer with Deformable Attention", Xia, Pan, Song, Li, Huang, CVPR 2022,
https://arxiv.org/abs/2201.00520. Official code: LeapLabTHU/DAT, ``models/dat_blocks.py``
(``DAttentionBaseline``, CVPR-2022 version). Key names are the official ones.

Two grid conventions, one flag:

* ``grid="official"`` copies the official code: reference points at pixel centres
  ``((i + 0.5) / Hk) * 2 - 1`` but sampled with ``align_corners=True`` (which puts -1 and
  +1 on the centres of the first and last pixels), so even zero offsets sample a grid
  contracted by (H - 1) / H, and the position bias reads the table off the integer cells.
* ``grid="consistent"`` (the default) keeps one convention (``align_corners=False`` for the
  keys, pixel displacements for the bias): zero offsets at stride 1 sample the input
  exactly, at stride 2 they give 2 x 2 average pooling, and the bias at integer
  displacements equals the Swin table lookup.

Book: ch03, section "Deformable attention (DAT)".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

OFFSET_KERNELS = (9, 7, 5, 3)  # offset-network kernel size by stage index
GRIDS = ("official", "consistent")


class LayerNormProxy(nn.Module):
    """LayerNorm over the channels of an NCHW map (key ``norm``).

    Book: ch03, section "Deformable attention (DAT)".
    """

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # (B, C, H, W)


def reference_points(Hk: int, Wk: int, dtype=None, device=None) -> Tensor:
    """(Hk, Wk, 2) pixel-centre reference points in [-1, 1], last axis (y, x).

    "a group of reference points is placed uniformly on the feature map" (Fig. 2); the
    grid is the map downsampled by the stride r (Sec. 3.2).

    Book: ch03, section "Deformable attention (DAT)".
    """
    ys = (torch.arange(Hk, dtype=dtype, device=device) + 0.5) / Hk * 2 - 1
    xs = (torch.arange(Wk, dtype=dtype, device=device) + 0.5) / Wk * 2 - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gy, gx], -1)  # (Hk, Wk, 2)


class DeformableAttention(nn.Module):
    """Deformable multi-head attention on an NCHW map, official argument names.

    Forward: ``y, pos, reference = attn(x)`` with x (B, C, H, W), C = n_heads *
    n_head_channels; pos and reference are (B, G, Hk, Wk, 2) in (y, x) order.

    "a group of reference points is placed uniformly on the feature map, whose offsets are
    learned from the queries by the offset network. Then the deformed keys and values are
    projected from the sampled features according to the deformed points" (Fig. 2); one
    set of offsets per group, shared by all queries.

    Book: ch03, section "Deformable attention (DAT)".
    """

    def __init__(
        self,
        q_size: tuple[int, int],
        kv_size: tuple[int, int] | None = None,
        n_heads: int = 4,
        n_head_channels: int = 16,
        n_groups: int = 1,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        stride: int = 1,
        offset_range_factor: float = 2,
        use_pe: bool = True,
        dwc_pe: bool = False,
        no_off: bool = False,
        fixed_pe: bool = False,
        stage_idx: int = 0,
        grid: str = "consistent",
    ) -> None:
        super().__init__()
        if grid not in GRIDS:
            raise ValueError(f"grid={grid!r}: expected one of {GRIDS}")
        if n_heads % n_groups:
            raise ValueError(f"n_heads={n_heads} is not divisible by n_groups={n_groups}")
        self.grid = grid
        self.q_size = tuple(q_size)
        self.kv_size = tuple(kv_size) if kv_size is not None else self.q_size
        self.n_heads, self.n_head_channels, self.n_groups = n_heads, n_head_channels, n_groups
        self.nc = n_heads * n_head_channels
        self.n_group_channels = self.nc // n_groups
        self.n_group_heads = n_heads // n_groups
        self.scale = n_head_channels**-0.5
        self.stride, self.offset_range_factor = stride, offset_range_factor
        self.use_pe, self.dwc_pe, self.no_off, self.fixed_pe = use_pe, dwc_pe, no_off, fixed_pe
        k = OFFSET_KERNELS[stage_idx]
        self.kernel = k
        gc = self.n_group_channels
        # offset network theta_offset: depthwise conv -> LN -> GELU -> 1x1 conv to (dy, dx)
        self.conv_offset = nn.Sequential(
            nn.Conv2d(gc, gc, k, stride, k // 2, groups=gc),
            LayerNormProxy(gc),
            nn.GELU(),
            nn.Conv2d(gc, 2, 1, 1, 0, bias=False),
        )
        self.proj_q = nn.Conv2d(self.nc, self.nc, 1)
        self.proj_k = nn.Conv2d(self.nc, self.nc, 1)
        self.proj_v = nn.Conv2d(self.nc, self.nc, 1)
        self.proj_out = nn.Conv2d(self.nc, self.nc, 1)
        self.attn_drop, self.proj_drop = nn.Dropout(attn_drop), nn.Dropout(proj_drop)
        if use_pe and dwc_pe:
            self.rpe_table = nn.Conv2d(self.nc, self.nc, 3, 1, 1, groups=self.nc)
        elif use_pe and fixed_pe:
            Hq, Wq = self.q_size
            Hk, Wk = self.key_grid_size(Hq, Wq)
            self.rpe_table = nn.Parameter(torch.zeros(n_heads, Hq * Wq, Hk * Wk))
            nn.init.trunc_normal_(self.rpe_table, std=0.01)
        elif use_pe:
            Hkv, Wkv = self.kv_size
            self.rpe_table = nn.Parameter(torch.zeros(n_heads, 2 * Hkv - 1, 2 * Wkv - 1))
            nn.init.trunc_normal_(self.rpe_table, std=0.01)
        else:
            self.rpe_table = None

    @classmethod
    def from_official_config(cls, ctor: dict, grid: str = "official") -> DeformableAttention:
        """Build the official configuration (``config['ctor']``), official grid.

        Book: ch03, section "Deformable attention (DAT)".
        """
        kw = dict(ctor)
        kw["q_size"], kw["kv_size"] = tuple(kw["q_size"]), tuple(kw["kv_size"])
        return cls(**kw, grid=grid)

    def key_grid_size(self, H: int, W: int) -> tuple[int, int]:
        """(Hk, Wk): the offset map size, floor((H + 2 (k//2) - k) / r) + 1."""
        k, r = self.kernel, self.stride
        return ((H + 2 * (k // 2) - k) // r + 1, (W + 2 * (k // 2) - k) // r + 1)

    def offsets(self, q: Tensor) -> Tensor:
        """Group-folded query (B*G, C/G, H, W) -> bounded offsets (B*G, Hk, Wk, 2) (y, x)."""
        off = self.conv_offset(q)  # (B * G, 2, Hk, Wk), channel 0 = y, 1 = x
        Hk, Wk = off.shape[-2:]
        if self.offset_range_factor > 0:
            # bounded offsets, s * tanh(raw), s in units of the reference-grid step
            rng = torch.tensor([1.0 / Hk, 1.0 / Wk], dtype=off.dtype, device=off.device)
            off = off.tanh().mul(rng.view(1, 2, 1, 1)).mul(self.offset_range_factor)
        off = off.permute(0, 2, 3, 1)  # (B * G, Hk, Wk, 2)
        if self.no_off:  # the official code crashes here (Tensor.fill); zero offsets
            off = torch.zeros_like(off)
        return off

    def sample(self, x: Tensor, pos: Tensor) -> Tensor:
        """Bilinear samples of x (B*G, C/G, H, W) at pos (B*G, Hk, Wk, 2) in (y, x)."""
        ac = self.grid == "official"
        return F.grid_sample(
            x, pos.flip(-1), mode="bilinear", padding_mode="zeros", align_corners=ac
        )  # (B * G, C/G, Hk, Wk)

    def position_bias(self, pos: Tensor, H: int, W: int) -> Tensor:
        """Bias (B*G, heads/G, H*W, Hk*Wk) sampled from the continuous table.

        "Relative position bias is also computed by the deformed points" (Fig. 2): read
        from a (2H - 1) x (2W - 1) table by bilinear interpolation, since keys are not on pixels.
        """
        BG, Hk, Wk, _ = pos.shape
        if self.grid == "official":
            qg = reference_points(H, W, pos.dtype, pos.device)  # (H, W, 2)
            disp = (qg.view(1, H * W, 1, 2) - pos.view(BG, 1, Hk * Wk, 2)) * 0.5
        else:  # displacement in pixels, then index (d + H - 1) of a (2H - 1) table
            size = torch.tensor([H, W], dtype=pos.dtype, device=pos.device)
            key_px = (pos + 1) / 2 * size - 0.5  # align_corners=False pixel coordinates
            gy, gx = torch.meshgrid(
                torch.arange(H, dtype=pos.dtype, device=pos.device),
                torch.arange(W, dtype=pos.dtype, device=pos.device),
                indexing="ij",
            )
            q_px = torch.stack([gy, gx], -1).view(1, H * W, 1, 2)
            d = q_px - key_px.view(BG, 1, Hk * Wk, 2)  # (B*G, HW, Ns, 2) pixels
            disp = d / (size - 1).clamp(min=1)  # table corners are cells 0 and 2H - 2
        B = BG // self.n_groups
        table = self.rpe_table[None].expand(B, -1, -1, -1)  # (B, heads, 2H-1, 2W-1)
        table = table.reshape(BG, self.n_group_heads, 2 * H - 1, 2 * W - 1)
        return F.grid_sample(
            table, disp.flip(-1), mode="bilinear", padding_mode="zeros", align_corners=True
        )  # (B * G, heads/G, H*W, Ns)

    def forward(self, x: Tensor, return_attn: bool = False):
        B, C, H, W = x.shape
        G, gc, h, d = self.n_groups, self.n_group_channels, self.n_heads, self.n_head_channels
        if C != self.nc:
            raise ValueError(f"DeformableAttention: x has {C} channels, expected {self.nc}")
        q = self.proj_q(x)  # (B, C, H, W)
        off = self.offsets(q.reshape(B * G, gc, H, W))  # (B * G, Hk, Wk, 2)
        Hk, Wk = off.shape[1:3]
        ns = Hk * Wk
        reference = reference_points(Hk, Wk, x.dtype, x.device).expand(B * G, -1, -1, -1)
        pos = off + reference  # no clamp ("factor >= 0" branch)
        if self.offset_range_factor < 0:
            pos = pos.tanh()
        x_sampled = self.sample(x.reshape(B * G, gc, H, W), pos)  # (B*G, C/G, Hk, Wk)
        x_sampled = x_sampled.reshape(B, C, 1, ns)
        q = q.reshape(B * h, d, H * W)
        k = self.proj_k(x_sampled).reshape(B * h, d, ns)
        v = self.proj_v(x_sampled).reshape(B * h, d, ns)
        attn = torch.einsum("bcm,bcn->bmn", q, k) * self.scale  # (B * heads, HW, Ns)
        residual = None
        if self.use_pe and self.dwc_pe:
            residual = self.rpe_table(q.reshape(B, C, H, W)).reshape(B * h, d, H * W)
        elif self.use_pe and self.fixed_pe:
            if self.rpe_table.shape[1:] != (H * W, ns):
                raise ValueError(
                    f"fixed_pe table {tuple(self.rpe_table.shape[1:])} does not fit "
                    f"{H}x{W} queries and {ns} keys"
                )
            attn = attn + self.rpe_table[None].expand(B, -1, -1, -1).reshape(B * h, H * W, ns)
        elif self.use_pe:
            if (2 * H - 1, 2 * W - 1) != tuple(self.rpe_table.shape[1:]):
                raise ValueError(
                    f"rpe_table {tuple(self.rpe_table.shape)} needs a "
                    f"{(self.rpe_table.shape[1] + 1) // 2}x{(self.rpe_table.shape[2] + 1) // 2}"
                    f" map, got {H}x{W} (kv_size must equal the map size)"
                )
            attn = attn + self.position_bias(pos, H, W).reshape(B * h, H * W, ns)
        attn = self.attn_drop(attn.softmax(dim=2))
        out = torch.einsum("bmn,bcn->bcm", attn, v)  # (B * heads, d, HW)
        if residual is not None:
            out = out + residual
        y = self.proj_drop(self.proj_out(out.reshape(B, C, H, W)))
        pos, reference = pos.reshape(B, G, Hk, Wk, 2), reference.reshape(B, G, Hk, Wk, 2)
        if return_attn:
            return y, pos, reference, attn.view(B, h, H * W, ns)
        return y, pos, reference
