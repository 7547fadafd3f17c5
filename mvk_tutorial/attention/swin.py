"""Swin Transformer: attention inside (shifted) windows with a relative position bias.

"Swin Transformer: Hierarchical Vision Transformer using Shifted Windows", Liu et al.,
ICCV 2021, https://arxiv.org/abs/2103.14030. Official code: microsoft/Swin-Transformer
(``models/swin_transformer.py``); the key names here are the official ones, so its
``state_dict`` loads with ``strict=True`` (see :meth:`WindowAttention.from_official_config`).

One implementation for the whole package: the chapter-3 blocks (any H, W: pad, then crop,
with padded tokens masked out) and the SwinB-DeAOT-L backbone of chapter 8 (the
detection-style interface of aot-benchmark: ``out_indices``, per-stage norms
``norm0..2``; padded tokens are zeros that take part in attention, as in that code).

Book: ch03, section "Swin: shifted windows".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The official code uses -100 (not -inf) between tokens of different shifted regions.
REGION_MASK_VALUE = -100.0


def _pair(v) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"window_size: expected an int or a pair, got {v!r}")
    return v


def window_partition(x: Tensor, window_size) -> Tensor:
    """Cut (B, H, W, C) into windows (B * nW, Mh, Mw, C), batch-major, then row-major.

    "we propose to compute self-attention within local windows. The windows are
    arranged to evenly partition the image in a non-overlapping manner."
    H and W must be multiples of the window (pad first, see :func:`pad_to_windows`).

    Book: ch03, section "Swin: shifted windows".
    """
    Mh, Mw = _pair(window_size)
    B, H, W, C = x.shape
    if H % Mh or W % Mw:
        raise ValueError(
            f"window_partition: map {H}x{W} is not a multiple of the window {Mh}x{Mw}"
        )
    x = x.view(B, H // Mh, Mh, W // Mw, Mw, C)  # (B, nH, Mh, nW, Mw, C)
    x = x.permute(0, 1, 3, 2, 4, 5)  # (B, nH, nW, Mh, Mw, C)
    return x.reshape(-1, Mh, Mw, C)  # (B * nWin, Mh, Mw, C)


def window_reverse(windows: Tensor, window_size, H: int, W: int) -> Tensor:
    """Inverse of :func:`window_partition`: (B * nW, Mh, Mw, C) -> (B, H, W, C).

    Book: ch03, section "Swin: shifted windows".
    """
    Mh, Mw = _pair(window_size)
    B = windows.shape[0] // ((H // Mh) * (W // Mw))
    x = windows.view(B, H // Mh, W // Mw, Mh, Mw, -1)  # (B, nH, nW, Mh, Mw, C)
    x = x.permute(0, 1, 3, 2, 4, 5)  # (B, nH, Mh, nW, Mw, C)
    return x.reshape(B, H, W, -1)


def relative_position_index(window_size) -> Tensor:
    """(N, N) index into the ((2Mh-1)(2Mw-1), heads) bias table, N = Mh * Mw.

    Index = (dy + Mh - 1) * (2Mw - 1) + (dx + Mw - 1), with d = query - key coordinate.

    Book: ch03, section "Swin: shifted windows".
    """
    Mh, Mw = _pair(window_size)
    ys, xs = torch.meshgrid(torch.arange(Mh), torch.arange(Mw), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()])  # (2, N)
    rel = coords[:, :, None] - coords[:, None, :]  # (2, N, N): query - key
    return (rel[0] + Mh - 1) * (2 * Mw - 1) + (rel[1] + Mw - 1)


def region_labels(Hp: int, Wp: int, window_size, shift) -> Tensor:
    """(Hp, Wp) labels of the regions that the cyclic shift glues together.

    Per axis three slices: [0, -M), [-M, -s), [-s, end); 3 x 3 labels in all.

    Book: ch03, section "Swin: shifted windows".
    """
    Mh, Mw = _pair(window_size)
    sh, sw = _pair(shift)
    labels = torch.zeros(Hp, Wp, dtype=torch.long)
    n = 0
    for hs in (slice(0, -Mh), slice(-Mh, -sh), slice(-sh, None)):
        for ws in (slice(0, -Mw), slice(-Mw, -sw), slice(-sw, None)):
            labels[hs, ws] = n
            n += 1
    return labels


def shift_mask(Hp: int, Wp: int, ws, s, device=None, dtype=None) -> Tensor:
    """(nW, N, N) additive mask of shifted-window attention: -100 between tokens of
    different regions, 0 inside a region (the official convention).

    "a more efficient batch computation approach by cyclic-shifting toward the
    top-left direction ... a batched window may be composed of several sub-windows
    that are not adjacent in the feature map, so a masking mechanism is employed to
    limit self-attention computation to within each sub-window."

    Book: ch03, section "Swin: shifted windows".
    """
    Mh, Mw = _pair(ws)
    labels = region_labels(Hp, Wp, (Mh, Mw), s).to(torch.get_default_dtype())
    win = window_partition(labels.view(1, Hp, Wp, 1), (Mh, Mw)).view(-1, Mh * Mw)
    diff = win[:, None, :] - win[:, :, None]  # (nW, N, N)
    mask = torch.zeros_like(diff).masked_fill(diff != 0, REGION_MASK_VALUE)
    return mask.to(device=device, dtype=dtype or mask.dtype)


def padding_key_mask(H: int, W: int, Hp: int, Wp: int, window_size, shift) -> Tensor:
    """(nW, 1, N) mask: -inf on padded keys (after the shift), 0 elsewhere.

    Padding makes any H, W work; masking the padded keys keeps them from ever receiving
    attention, so the output on real tokens is the same as without padding.

    Book: ch03, section "Swin: shifted windows".
    """
    Mh, Mw = _pair(window_size)
    sh, sw = _pair(shift)
    pad = torch.ones(Hp, Wp)
    pad[:H, :W] = 0
    pad = torch.roll(pad, shifts=(-sh, -sw), dims=(0, 1))
    win = window_partition(pad.view(1, Hp, Wp, 1), (Mh, Mw)).view(-1, 1, Mh * Mw)
    return torch.zeros_like(win).masked_fill(win > 0, float("-inf"))


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows, plus a learned relative position bias.

    Forward: ``attn(x, mask=None)`` with x (num_windows * B, N, C), N = Mh * Mw, and an
    optional additive mask (nW, N, N) applied to window b as ``mask[b % nW]``.

    "we follow [...] to include a relative position bias B to each head in computing
    similarity: Attention(Q, K, V) = SoftMax(QK^T / sqrt(d) + B) V"

    Book: ch03, section "Swin: shifted windows".
    """

    def __init__(
        self,
        dim: int,
        window_size,
        num_heads: int,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.dim, self.num_heads = dim, num_heads
        self.window_size = _pair(window_size)
        Mh, Mw = self.window_size
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * Mh - 1) * (2 * Mw - 1), num_heads)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer(
            "relative_position_index", relative_position_index(self.window_size)
        )
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    @classmethod
    def from_official_config(cls, ctor: dict) -> WindowAttention:
        """Build from the official constructor arguments (``config['ctor']``).

        Book: ch03, section "Swin: shifted windows".
        """
        keys = ("dim", "window_size", "num_heads", "qkv_bias", "qk_scale")
        keys += ("attn_drop", "proj_drop")
        return cls(**{k: ctor[k] for k in keys if k in ctor})

    def relative_position_bias(self) -> Tensor:
        """(heads, N, N): the table gathered by the relative position index."""
        N = self.window_size[0] * self.window_size[1]
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return bias.view(N, N, -1).permute(2, 0, 1)  # (heads, N, N)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, return_attn: bool = False
    ):
        B_, N, C = x.shape  # (B * nW, N, C)
        h = self.num_heads
        qkv = self.qkv(x).view(B_, N, 3, h, C // h)  # the usual (3, heads, d) layout
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B * nW, heads, N, d)
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (B * nW, heads, N, N)
        attn = attn + self.relative_position_bias().unsqueeze(0)
        if mask is not None:  # (nW, N, N) or (nW, 1, N)
            nW = mask.shape[0]
            attn = attn.view(B_ // nW, nW, h, N, N) + mask[None, :, None]
            attn = attn.view(B_, h, N, N)
        attn = self.attn_drop(attn.softmax(-1))
        out = (attn @ v).transpose(1, 2).reshape(B_, N, C)  # (B * nW, N, heads * d)
        out = self.proj_drop(self.proj(out))
        return (out, attn) if return_attn else out


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2 (keys ``fc1``, ``fc2``). Book: ch03, section "Swin: shifted windows"."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1, self.act, self.fc2 = (
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, dim),
        )
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class SwinTransformerBlock(nn.Module):
    """(Shifted) window attention + MLP, both pre-norm with residuals.

    Two ways to call it:

    * ``block(x)`` with x (B, H * W, C) and ``input_resolution=(H, W)`` given: the
      official signature (the shift mask is a persistent buffer ``attn_mask``); any H, W
      works: the map is padded to a multiple of the window, the padded keys are masked
      (``mask_padding``), and the output is cropped back.
    * ``block(x, H, W, mask)`` (the detection backbone of chapter 8): the caller gives the
      stage's shift mask, used only when the block is shifted; padded tokens are zeros
      that take part in attention, as in the official detection code.

    "The shifted window partitioning approach introduces connections between neighboring
    non-overlapping windows in the previous layer."

    Book: ch03, section "Swin: shifted windows".
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int = 7,
        shift_size: int = 0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        input_resolution: tuple[int, int] | None = None,
        mask_padding: bool = True,
    ) -> None:
        super().__init__()
        self.input_resolution = (
            tuple(input_resolution) if input_resolution is not None else None
        )
        if self.input_resolution is not None and min(self.input_resolution) <= window_size:
            # official rule: a window that covers the map needs no shift
            shift_size, window_size = 0, min(self.input_resolution)
        if not 0 <= shift_size < window_size:
            raise ValueError(
                f"shift_size={shift_size}: expected 0 <= shift < window_size={window_size}"
            )
        self.window_size, self.shift_size = window_size, shift_size
        self.mask_padding = mask_padding
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(
            dim, window_size, num_heads, qkv_bias, qk_scale, attn_drop, drop
        )
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        if self.input_resolution is not None and shift_size > 0:
            Hp, Wp = (-(-n // window_size) * window_size for n in self.input_resolution)
            self.register_buffer("attn_mask", shift_mask(Hp, Wp, window_size, shift_size))
        else:
            self.attn_mask = None

    @classmethod
    def from_official_config(cls, ctor: dict) -> SwinTransformerBlock:
        """Build from the official constructor arguments (``config['ctor']``).

        Book: ch03, section "Swin: shifted windows".
        """
        drop_path = ctor.get("drop_path", 0.0)
        if drop_path:
            raise ValueError("from_official_config: drop_path > 0 is not supported")
        return cls(
            dim=ctor["dim"],
            num_heads=ctor["num_heads"],
            window_size=ctor.get("window_size", 7),
            shift_size=ctor.get("shift_size", 0),
            mlp_ratio=ctor.get("mlp_ratio", 4.0),
            qkv_bias=ctor.get("qkv_bias", True),
            qk_scale=ctor.get("qk_scale"),
            drop=ctor.get("drop", 0.0),
            attn_drop=ctor.get("attn_drop", 0.0),
            input_resolution=tuple(ctor["input_resolution"]),
        )

    def _mask(self, H: int, W: int, Hp: int, Wp: int, device, dtype) -> Tensor | None:
        ws, s = self.window_size, self.shift_size
        mask = None
        if s > 0:
            if self.attn_mask is not None and self.attn_mask.shape[0] == (Hp // ws) * (
                Wp // ws
            ) and (H, W) == self.input_resolution:
                mask = self.attn_mask
            else:
                mask = shift_mask(Hp, Wp, ws, s)
            mask = mask.to(device=device, dtype=dtype)
        if self.mask_padding and (Hp, Wp) != (H, W):
            pad = padding_key_mask(H, W, Hp, Wp, ws, s).to(device=device, dtype=dtype)
            mask = pad if mask is None else mask + pad  # (nW, N, N)
        return mask

    def forward(
        self,
        x: Tensor,
        H: int | None = None,
        W: int | None = None,
        mask: Tensor | None = None,
        return_attn: bool = False,
    ):
        B, L, C = x.shape  # (B, H * W, C), row-major tokens
        if H is None or W is None:
            if self.input_resolution is None:
                raise ValueError("SwinTransformerBlock: give H and W or input_resolution")
            H, W = self.input_resolution
        if L != H * W:
            raise ValueError(f"SwinTransformerBlock: {L} tokens, expected H*W = {H * W}")
        ws, s = self.window_size, self.shift_size
        y = self.norm1(x).view(B, H, W, C)
        pad_b, pad_r = (ws - H % ws) % ws, (ws - W % ws) % ws
        y = F.pad(y, (0, 0, 0, pad_r, 0, pad_b))  # (B, Hp, Wp, C)
        Hp, Wp = y.shape[1], y.shape[2]
        if mask is not None:  # detection-backbone call: the caller's shift mask
            mask = mask if s > 0 else None
        else:
            mask = self._mask(H, W, Hp, Wp, x.device, x.dtype)
        if s > 0:  # cyclic shift toward the top-left
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        win = window_partition(y, ws).view(-1, ws * ws, C)  # (B * nW, N, C)
        res = self.attn(win, mask, return_attn=return_attn)
        win, attn = res if return_attn else (res, None)
        y = window_reverse(win.view(-1, ws, ws, C), ws, Hp, Wp)  # (B, Hp, Wp, C)
        if s > 0:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        x = x + y[:, :H, :W].reshape(B, L, C)
        x = x + self.mlp(self.norm2(x))
        return (x, attn) if return_attn else x


class PatchMerging(nn.Module):
    """2x2 neighbours -> cat (4C) -> LayerNorm -> Linear to 2C (keys ``norm``, ``reduction``).

    Book: ch03, section "Swin: shifted windows".
    """

    def __init__(self, dim: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: Tensor, H: int, W: int) -> Tensor:
        B, L, C = x.shape
        x = F.pad(x.view(B, H, W, C), (0, 0, 0, W % 2, 0, H % 2))
        x = torch.cat(
            [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1
        )  # (B, H/2, W/2, 4C)
        return self.reduction(self.norm(x.view(B, -1, 4 * C)))


class BasicLayer(nn.Module):
    """One Swin stage of the detection backbone: ``depth`` blocks (alternately
    shifted), then optional merging. Book: ch03, section "Swin: shifted windows"."""

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

    def forward(self, x: Tensor, H: int, W: int, merge: bool = True):
        """Returns (stage output, merged tokens or None, H, W after merging)."""
        ws = self.window_size
        Hp, Wp = -(-H // ws) * ws, -(-W // ws) * ws
        mask = shift_mask(Hp, Wp, ws, self.shift_size, x.device, x.dtype)
        for blk in self.blocks:
            x = blk(x, H, W, mask)
        if self.downsample is None or not merge:
            return x, None, (H + 1) // 2, (W + 1) // 2
        return x, self.downsample(x, H, W), (H + 1) // 2, (W + 1) // 2


class PatchEmbed(nn.Module):
    """Conv patch embedding + LayerNorm, padding the image to a multiple of the patch.

    Book: ch03, section "Swin: shifted windows".
    """

    def __init__(self, patch_size: int = 4, embed_dim: int = 128, in_chans: int = 3):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        p = self.patch_size
        H, W = x.shape[-2:]
        x = F.pad(x, (0, (p - W % p) % p, 0, (p - H % p) % p))
        x = self.proj(x)  # (B, C, H/p, W/p)
        B, C, h, w = x.shape
        x = self.norm(x.flatten(2).transpose(1, 2))  # (B, h*w, C)
        return x.transpose(1, 2).view(B, C, h, w)


class SwinTransformer(nn.Module):
    """Swin backbone returning the normed maps of ``out_indices`` stages (B, C, H, W).

    Book: ch03, section "Swin: shifted windows".
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

    def forward(self, x: Tensor) -> list[Tensor]:
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
    """Swin-B for DeAOT: [x4, x8, x16, x16]. Book: ch03, section "Swin: shifted windows"."""

    def forward(self, x: Tensor) -> list[Tensor]:
        xs = super().forward(x)
        return xs + [xs[-1]]


def swin_base() -> SwinEncoder:
    """Swin-B: embed 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32), window 7.

    Book: ch03, section "Swin: shifted windows".
    """
    return SwinEncoder(128, (2, 2, 18, 2), (4, 8, 16, 32), 7, (0, 1, 2))
