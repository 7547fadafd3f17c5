"""Slide Attention: k x k local attention built from shifts and depthwise convolutions.

Pan et al., "Slide-Transformer: Hierarchical Vision Transformer with Local
Self-Attention", CVPR 2023, arXiv:2304.04237; official code
LeapLabTHU/Slide-Transformer (``slide_transformer/models/slide_swin.py``, class
``SlideAttention``). Parameter names follow that file so its ``state_dict`` loads
strictly: ``qkv``, ``proj``, ``dep_conv`` (fixed one-hot shift kernels),
``dep_conv1`` (learned "deformed" kernels), ``relative_position_bias_table``.

Three ways to gather the k x k neighbourhood of every pixel (the paper's Figure 3):

* ``"im2col"``: ``F.unfold`` copies every k x k patch into a column;
* ``"shift"``: the row-based view: shift the whole key/value map toward each of the
  k^2 directions (k^2 sliced copies of the zero-padded map);
* ``"depthwise"``: the same shifts as a depthwise convolution with fixed one-hot
  kernels. Abstract: "we first re-interpret the column-based Im2Col function from a
  new row-based perspective and use Depthwise Convolution as an efficient
  substitution".

Book: ch04, section "Three ways to gather a neighbourhood".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IMPLS = ("im2col", "shift", "depthwise")


def one_hot_kernels(
    channels: int, kernel_size: int, dtype=None, device=None
) -> Tensor:
    """Depthwise weights (channels * k^2, 1, k, k): output channel c*k^2 + n copies
    channel c from neighbour n (row-major (dy, dx), offsets -k//2 .. k//2).

    Book: ch04, section "Three ways to gather a neighbourhood".
    """
    k2 = kernel_size * kernel_size
    eye = torch.eye(k2, dtype=dtype, device=device).view(k2, 1, kernel_size, kernel_size)
    return eye.repeat(channels, 1, 1, 1)  # (channels * k^2, 1, k, k)


def gather_neighbours(x: Tensor, kernel_size: int = 3, impl: str = "im2col") -> Tensor:
    """(B, C, H, W) -> (B, C, k^2, H, W): the k x k zero-padded neighbours of each pixel.

    Book: ch04, section "Three ways to gather a neighbourhood".
    """
    if impl not in IMPLS:
        raise ValueError(f"impl={impl!r}: expected one of {IMPLS}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size}: expected an odd positive int")
    B, C, H, W = x.shape
    k, r = kernel_size, kernel_size // 2
    if impl == "im2col":
        cols = F.unfold(x, k, padding=r)  # (B, C * k^2, H * W), channel-major
        return cols.view(B, C, k * k, H, W)
    if impl == "shift":
        padded = F.pad(x, (r, r, r, r))  # (B, C, H + 2r, W + 2r)
        shifts = [padded[..., i : i + H, j : j + W] for i in range(k) for j in range(k)]
        return torch.stack(shifts, dim=2)  # (B, C, k^2, H, W)
    weight = one_hot_kernels(C, k, x.dtype, x.device)  # (C * k^2, 1, k, k)
    out = F.conv2d(x, weight, padding=r, groups=C)  # (B, C * k^2, H, W)
    return out.view(B, C, k * k, H, W)


def local_attention(
    q: Tensor, k: Tensor, v: Tensor, kernel_size: int = 3, impl: str = "im2col"
) -> Tensor:
    """k x k local attention: each pixel attends to its zero-padded neighbourhood.

    q, k, v: (B, heads, head_dim, H, W); returns the same shape. Logits are plain
    q . k (no scaling, no bias), the softmax runs over the k^2 neighbours, keys and
    values outside the image are zeros (they still take softmax mass, as in Slide).

    Book: ch04, section "Local attention".
    """
    if not (q.shape == k.shape == v.shape) or q.dim() != 5:
        raise ValueError(
            f"q, k, v: expected equal shapes (B, heads, head_dim, H, W), got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    B, h, d, H, W = q.shape
    kk = gather_neighbours(k.reshape(B * h, d, H, W), kernel_size, impl)
    vv = gather_neighbours(v.reshape(B * h, d, H, W), kernel_size, impl)
    kk = kk.view(B, h, d, -1, H, W)  # (B, heads, d, k^2, H, W)
    vv = vv.view(B, h, d, -1, H, W)
    logits = (q.unsqueeze(3) * kk).sum(2)  # (B, heads, k^2, H, W)
    attn = logits.softmax(dim=2)
    return (attn.unsqueeze(2) * vv).sum(3)  # (B, heads, d, H, W)


class SlideAttention(nn.Module):
    """Slide Attention with deformed shifting and a relative position bias.

    Args:
        dim: token width C.
        num_heads: heads h; head_dim d = C / h.
        input_resolution: (H, W) of the token map (tokens are row-major).
        ka: kernel size k (the released models use 3).
        qkv_bias: bias in the qkv projection.
        qk_scale: logit scale; default d^-0.5 (applied to q).
        attn_drop, proj_drop: dropout rates.
        padding_mode: padding of the shift convolutions (official default "zeros").

    Conventions of the official module (kept so that its weights load): the qkv
    channels are per head [q | k | v]; the "fixed one-hot branch plus a learnable
    depthwise branch" (``dep_conv`` + ``dep_conv1``) shifts both keys and values and
    is shared by all heads; the position bias is added to the shifted **keys**.
    After :meth:`reparameterize` there is one branch only.

    Book: ch04, section "Slide Attention".
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        input_resolution: tuple[int, int],
        ka: int = 3,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        if ka < 1 or ka % 2 == 0:
            raise ValueError(f"ka={ka}: expected an odd positive kernel size")
        self.dim, self.num_heads, self.ka = dim, num_heads, ka
        self.input_resolution = tuple(input_resolution)
        self.head_dim = d = dim // num_heads
        self.scale = qk_scale or d**-0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        conv = dict(kernel_size=ka, padding=ka // 2, groups=d, padding_mode=padding_mode)
        self.dep_conv = nn.Conv2d(d, ka * ka * d, bias=True, **conv)
        self.dep_conv1 = nn.Conv2d(d, ka * ka * d, bias=True, **conv)
        with torch.no_grad():
            self.dep_conv.weight.copy_(one_hot_kernels(d, ka))
        # the one-hot weight is frozen in the official code (its bias is trained)
        self.dep_conv.weight.requires_grad_(False)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros(1, num_heads, 1, ka * ka, 1, 1)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    @classmethod
    def from_official_config(cls, ctor: dict) -> SlideAttention:
        """Build from the official constructor arguments (``config['ctor']``).

        Book: ch04, section "Slide Attention".
        """
        known = {
            "dim", "num_heads", "input_resolution", "ka", "qkv_bias", "qk_scale",
            "attn_drop", "proj_drop", "padding_mode",
        }  # fmt: skip
        extra = set(ctor) - known
        if extra:
            raise ValueError(f"ctor: unknown SlideAttention arguments {sorted(extra)}")
        return cls(**ctor)

    def shift(self, x: Tensor) -> Tensor:
        """(B*h, d, H, W) -> (B*h, d*k^2, H, W): fixed shift plus the learned one."""
        out = self.dep_conv(x)
        if self.dep_conv1 is not None:
            out = out + self.dep_conv1(x)
        return out

    def forward(
        self, x: Tensor, hw: tuple[int, int] | None = None, return_attn: bool = False
    ):
        B, N, C = x.shape
        H, W = hw or self.input_resolution
        if N != H * W or C != self.dim:
            raise ValueError(f"x: expected (B, {H * W}, {self.dim}), got {tuple(x.shape)}")
        h, d, k2 = self.num_heads, self.head_dim, self.ka * self.ka
        qkv = self.qkv(x).transpose(1, 2).reshape(B * h, 3 * d, H, W)  # per head q|k|v
        q, k, v = qkv[:, :d] * self.scale, qkv[:, d : 2 * d], qkv[:, 2 * d :]
        q = q.reshape(B, h, d, 1, H, W)
        # "a deformed shifting module based on the re-parameterization technique,
        # which further relaxes the fixed key/value positions to deformed features"
        k = self.shift(k).reshape(B, h, d, k2, H, W) + self.relative_position_bias_table
        v = self.shift(v).reshape(B, h, d, k2, H, W)
        attn = (q * k).sum(2, keepdim=True).softmax(dim=3)  # (B, h, 1, k^2, H, W)
        attn = self.attn_drop(attn)
        out = (attn * v).sum(3).reshape(B, C, N).transpose(1, 2)  # (B, N, C), ch h*d+c
        out = self.proj_drop(self.proj(out))
        return (out, attn) if return_attn else out

    @torch.no_grad()
    def reparameterize(self) -> SlideAttention:
        """Merge the two shift branches into one depthwise conv (in place).

        Both branches have the same kernel size, padding and groups, and a convolution
        is linear in its weights, so one conv with summed weights and summed biases
        computes their sum. Not in the official release; the output does not change.
        Afterwards ``dep_conv1`` is None.

        Book: ch04, section "Re-parameterisation".
        """
        if self.dep_conv1 is None:
            return self
        merged = nn.Conv2d(
            self.head_dim, self.ka**2 * self.head_dim, self.ka, padding=self.ka // 2,
            groups=self.head_dim, padding_mode=self.dep_conv.padding_mode,
        ).to(self.dep_conv.weight)  # fmt: skip
        merged.weight.copy_(self.dep_conv.weight + self.dep_conv1.weight)
        merged.bias.copy_(self.dep_conv.bias + self.dep_conv1.bias)
        self.dep_conv, self.dep_conv1 = merged, None
        return self
