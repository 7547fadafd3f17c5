"""Swin Transformer backbone for SwinB-DeAOT-L, with the detection-style interface
(padding to the window size, ``out_indices``, per-stage norms ``norm0..2``) and key names
of aot-benchmark's ``networks/encoders/swin/swin_transformer.py``.

"Swin Transformer: Hierarchical Vision Transformer using Shifted Windows", Liu et al.,
ICCV 2021, https://arxiv.org/abs/2103.14030. Outputs [x4 (128), x8 (256), x16 (512),
x16 again]. Stage 4 and the last patch merging are built (their weights are in the
checkpoints) but, unlike the official code, not run: their outputs are unused.

Book: ch08, section "The DeAOT family" (Swin's window attention itself: ch03).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, ws, ws, C)."""
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws, ws, C)


def window_reverse(x: torch.Tensor, ws: int, H: int, W: int) -> torch.Tensor:
    """(B * nW, ws, ws, C) -> (B, H, W, C)."""
    B = x.shape[0] // ((H // ws) * (W // ws))
    x = x.view(B, H // ws, W // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, -1)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a window, with a relative position bias."""

    def __init__(self, dim: int, window_size: int, num_heads: int):
        super().__init__()
        self.num_heads, self.window_size = num_heads, window_size
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1) ** 2, num_heads)
        )
        coords = torch.stack(
            torch.meshgrid(
                torch.arange(window_size), torch.arange(window_size), indexing="ij"
            )
        )
        coords = coords.flatten(1)  # (2, ws*ws)
        rel = (
            (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window_size - 1
        )
        index = rel[..., 0] * (2 * window_size - 1) + rel[..., 1]  # (ws*ws, ws*ws)
        self.register_buffer("relative_position_index", index)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        B_, N, C = x.shape  # (B * nW, ws*ws, C)
        qkv = self.qkv(x).view(B_, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B_, heads, N, head_dim)
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (B_, heads, N, N)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(N, N, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:  # (nW, N, N), 0 or -100
            nW = mask.shape[0]
            attn = attn.view(B_ // nW, nW, self.num_heads, N, N) + mask[None, :, None]
            attn = attn.view(B_, self.num_heads, N, N)
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B_, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = (
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinTransformerBlock(nn.Module):
    """(Shifted) window attention + MLP, both pre-norm with residuals."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        mlp_ratio: float = 4.0,
    ):
        super().__init__()
        self.window_size, self.shift_size = window_size, shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(
        self, x: torch.Tensor, H: int, W: int, mask: torch.Tensor
    ) -> torch.Tensor:
        B, L, C = x.shape
        ws, s = self.window_size, self.shift_size
        y = self.norm1(x).view(B, H, W, C)
        pad_r, pad_b = (ws - W % ws) % ws, (ws - H % ws) % ws
        y = F.pad(y, (0, 0, 0, pad_r, 0, pad_b))  # (B, Hp, Wp, C)
        Hp, Wp = y.shape[1], y.shape[2]
        if s > 0:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        win = window_partition(y, ws).view(-1, ws * ws, C)  # (B*nW, ws*ws, C)
        win = self.attn(win, mask if s > 0 else None)
        y = window_reverse(win.view(-1, ws, ws, C), ws, Hp, Wp)
        if s > 0:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        x = x + y[:, :H, :W].reshape(B, L, C)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2x2 neighbours -> cat (4C) -> LayerNorm -> Linear to 2C (keys ``norm``, ``reduction``)."""

    def __init__(self, dim: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        B, L, C = x.shape
        x = F.pad(x.view(B, H, W, C), (0, 0, 0, W % 2, 0, H % 2))
        x = torch.cat(
            [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1
        )  # (B, H/2, W/2, 4C)
        return self.reduction(self.norm(x.view(B, -1, 4 * C)))


def shift_mask(Hp: int, Wp: int, ws: int, s: int, device) -> torch.Tensor:
    """(nW, ws*ws, ws*ws) additive mask: -100 between tokens of different shifted regions."""
    img = torch.zeros(1, Hp, Wp, 1, device=device)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
        for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
            img[:, hs, wsl] = cnt
            cnt += 1
    mw = window_partition(img, ws).view(-1, ws * ws)  # (nW, ws*ws)
    mask = mw.unsqueeze(1) - mw.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


class BasicLayer(nn.Module):
    """One Swin stage: ``depth`` blocks (alternately shifted), then optional merging."""

    def __init__(
        self, dim: int, depth: int, num_heads: int, window_size: int, downsample: bool
    ):
        super().__init__()
        self.window_size, self.shift_size = window_size, window_size // 2
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(
                dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2
            )
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x: torch.Tensor, H: int, W: int, merge: bool = True):
        """Returns (stage output, merged tokens or None, H, W after merging)."""
        ws = self.window_size
        Hp, Wp = -(-H // ws) * ws, -(-W // ws) * ws
        mask = shift_mask(Hp, Wp, ws, self.shift_size, x.device)
        for blk in self.blocks:
            x = blk(x, H, W, mask)
        if self.downsample is None or not merge:
            return x, None, (H + 1) // 2, (W + 1) // 2
        return x, self.downsample(x, H, W), (H + 1) // 2, (W + 1) // 2


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int = 4, embed_dim: int = 128):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(3, embed_dim, patch_size, patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch_size
        H, W = x.shape[-2:]
        x = F.pad(x, (0, (p - W % p) % p, 0, (p - H % p) % p))
        x = self.proj(x)  # (B, C, H/4, W/4)
        B, C, h, w = x.shape
        x = self.norm(x.flatten(2).transpose(1, 2))  # (B, h*w, C)
        return x.transpose(1, 2).view(B, C, h, w)


class SwinTransformer(nn.Module):
    """Swin backbone returning the normed maps of ``out_indices`` stages (B, C, H, W).

    Book: ch08 "Memory-based VOS and DeAOT".
    """

    def __init__(
        self,
        embed_dim: int = 128,
        depths=(2, 2, 18, 2),
        num_heads=(4, 8, 16, 32),
        window_size: int = 7,
        out_indices=(0, 1, 2),
    ):
        super().__init__()
        self.out_indices = out_indices
        self.patch_embed = PatchEmbed(4, embed_dim)
        self.num_features = [embed_dim * 2**i for i in range(len(depths))]
        self.layers = nn.ModuleList(
            BasicLayer(
                self.num_features[i],
                depths[i],
                num_heads[i],
                window_size,
                downsample=i < len(depths) - 1,
            )
            for i in range(len(depths))
        )
        for i in out_indices:
            self.add_module(f"norm{i}", nn.LayerNorm(self.num_features[i]))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)
        B, C, H, W = x.shape
        x = x.flatten(2).transpose(1, 2)  # (B, H*W, C)
        outs = []
        last = max(self.out_indices)
        for i, layer in enumerate(self.layers[: last + 1]):  # later stages are unused
            x_out, x, Hn, Wn = layer(x, H, W, merge=i < last)
            if i in self.out_indices:
                y = getattr(self, f"norm{i}")(x_out)
                outs.append(y.view(B, H, W, -1).permute(0, 3, 1, 2).contiguous())
            H, W = Hn, Wn
        return outs


class SwinEncoder(SwinTransformer):
    """Swin-B for DeAOT: [x4, x8, x16, x16]."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        xs = super().forward(x)
        return xs + [xs[-1]]


def swin_base() -> SwinEncoder:
    """Swin-B: embed 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32), window 7."""
    return SwinEncoder(128, (2, 2, 18, 2), (4, 8, 16, 32), 7, (0, 1, 2))
