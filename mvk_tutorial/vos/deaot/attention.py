"""Gated propagation: DeAOT's attention blocks over tokens of shape (h*w, B, C).

- ``GatedPropagation``: global attention (long-term memory and self-propagation),
  ``out = projection(dw_conv((softmax(Q K^T / sqrt(d)) V) * U))``.
- ``LocalGatedPropagation``: short-term attention over a 15x15 window of the previous
  frame, with a learnt relative embedding added to the logits.

"to compensate for the additional computation from dual-branch propagation, we propose an
efficient module for constructing hierarchical propagation, i.e., Gated Propagation
Module, which is carefully designed with single-head attention" (DeAOT, abstract).
Here: single-head attention, a gate, a 5x5 depthwise conv, a projection. The window
attention is computed tile by tile (``local_attention_windowed``) instead of the official pure-PyTorch fallback
(``local_attention_dense``), which scatters the window weights into a dense (h*w x h*w)
matrix; both give the same numbers up to float summation order.

Official code: yoxu515/aot-benchmark ``networks/layers/attention.py``, ``basic.py``.
Book: ch08, section "The Gated Propagation Module".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

NEG_INF = -1e8  # logit of out-of-image window positions (official value)


class DWConv2d(nn.Module):
    """5x5 depthwise conv (no bias) on tokens (h*w, B, C). Key ``conv.weight``."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 5, padding=2, groups=dim, bias=False)

    def forward(self, x: torch.Tensor, size_2d: tuple[int, int]) -> torch.Tensor:
        h, w = size_2d
        N, B, C = x.shape
        x = x.view(h, w, B, C).permute(
            2, 3, 0, 1
        )  # (B, C, h, w), channels-last strides
        # a channels-last weight keeps the whole conv channels-last: no transposes
        weight = self.conv.weight.to(memory_format=torch.channels_last)
        x = F.conv2d(x, weight, None, 1, 2, 1, C)
        return x.permute(2, 3, 0, 1).reshape(N, B, C)  # (h*w, B, C), a view


def global_attention(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    scale: float,
    max_elements: int = 1 << 24,
) -> torch.Tensor:
    """softmax(Q K^T * scale) V for tokens: Q (L, B, d), K (N, B, d), V (N, B, C) -> (L, B, C).

    Written out (scale Q, matmul, softmax, matmul) as the official code does; on a CPU
    this is as fast as ``F.scaled_dot_product_attention``, whose fallback adds passes. On
    CUDA the fused kernel is used. Queries are processed in chunks so that the attention
    matrix never exceeds ``max_elements`` entries (long-term memory of long videos).
    Book: ch08 "Memory-based VOS and DeAOT".
    """
    if Q.is_cuda:
        q, k, v = (x.permute(1, 0, 2).unsqueeze(1) for x in (Q, K, V))  # (B, 1, *, *)
        out = F.scaled_dot_product_attention(q, k, v, scale=scale)  # (B, 1, L, C)
        return out.squeeze(1).permute(1, 0, 2)  # (L, B, C)
    L, B, _ = Q.shape
    N = K.shape[0]
    step = max(1, max_elements // max(1, N * B))
    Kt = K.permute(1, 2, 0)  # (B, d, N)
    Vb = V.transpose(0, 1)  # (B, N, C)
    outs = []
    for s in range(0, L, step):
        q = (Q[s : s + step] * scale).transpose(0, 1)  # (B, l, d)
        attn = torch.softmax(torch.bmm(q, Kt), dim=-1)  # (B, l, N)
        outs.append(torch.bmm(attn.to(Vb.dtype), Vb))  # (B, l, C)
    out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
    return out.transpose(0, 1)  # (L, B, C)


def apply_gate(x: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    """x * U; a gate narrower than x gates only the first channels (DeAOT's first layer
    gates the visual half and leaves the ID half as is: official gate cat[silu(U), 1]).

    ``x`` is not modified (a new tensor is returned), so autograd and callers that keep
    ``x`` are safe. Book: ch08, section "The Gated Propagation Module".
    """
    c = U.shape[-1]
    if c == x.shape[-1]:
        return x * U
    return torch.cat([x[..., :c] * U, x[..., c:]], dim=-1)  # (..., C)


class GatedPropagation(nn.Module):
    """Single-head gated attention (official ``GatedPropagation``).

    With ``use_linear=False`` (long-term memory) Q, K, V, U arrive projected. With
    ``use_linear=True`` (self-propagation over the 512-d visual+ID tokens) Q = K =
    ``linear_QK(x)`` and V, U = silu(cat[linear_*1(visual half), linear_*2(ID half)]).

    Args:
        d_qk: input dim of Q/K (used when ``use_linear``).
        d_vu: output dim (512 = visual 256 + ID 256); the gated middle dim is 2 * d_vu.
        d_att: attention (key) dim, 128.
        use_linear: project Q, K, V, U inside (self-propagation).

    Book: ch08 "Memory-based VOS and DeAOT".
    """

    def __init__(
        self,
        d_qk: int,
        d_vu: int,
        d_att: int = 128,
        use_linear: bool = True,
        expand_ratio: float = 2.0,
    ):
        super().__init__()
        self.d_att = d_att
        self.use_linear = use_linear
        self.d_middle = int(d_vu * expand_ratio)
        if use_linear:
            half, half_mid = d_vu // 2, self.d_middle // 2
            self.linear_QK = nn.Linear(d_qk, d_att)
            self.linear_V1 = nn.Linear(half, half_mid)
            self.linear_V2 = nn.Linear(half, half_mid)
            self.linear_U1 = nn.Linear(half, half_mid)
            self.linear_U2 = nn.Linear(half, half_mid)
        self.dw_conv = DWConv2d(self.d_middle)
        self.projection = nn.Linear(self.d_middle, d_vu)

    def project_self(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Self-propagation inputs from x (N, B, 512): Q = K (N, B, 128), V, U (N, B, 1024)."""
        a, b = x.chunk(2, dim=-1)  # visual half, ID half: (N, B, 256) each
        QK = self.linear_QK(x)
        V = F.silu(torch.cat([self.linear_V1(a), self.linear_V2(b)], dim=-1))
        U = F.silu(torch.cat([self.linear_U1(a), self.linear_U2(b)], dim=-1))
        return QK, QK, V, U

    def forward(
        self,
        Q: torch.Tensor,
        K: torch.Tensor,
        V: torch.Tensor,
        U: torch.Tensor,
        size_2d: tuple[int, int],
    ) -> torch.Tensor:
        if self.use_linear:
            Q, K, V, U = self.project_self(Q)
        out = global_attention(Q, K, V, 1.0 / math.sqrt(self.d_att))  # (L, B, 1024)
        out = self.dw_conv(apply_gate(out, U), size_2d)
        return self.projection(out)  # (L, B, d_vu)


# ----------------------------------------------------------------------------------------
# Short-term (local) attention
# ----------------------------------------------------------------------------------------


def window_valid_mask(h: int, w: int, max_dis: int, device=None) -> torch.Tensor:
    """(h, w, ws*ws) bool: is offset (dy, dx) from (y, x) inside the image?

    Offset index = (dy + max_dis) * ws + (dx + max_dis), ws = 2 * max_dis + 1.
    Book: ch08 "Memory-based VOS and DeAOT".
    """
    d = torch.arange(-max_dis, max_dis + 1, device=device)
    ys = torch.arange(h, device=device).view(h, 1, 1) + d.view(1, -1, 1)  # (h, ws, 1)
    xs = torch.arange(w, device=device).view(w, 1, 1) + d.view(1, 1, -1)  # (w, 1, ws)
    vy = (ys >= 0) & (ys < h)  # (h, ws, 1)
    vx = (xs >= 0) & (xs < w)  # (w, 1, ws)
    valid = vy.view(h, 1, -1, 1) & vx.view(1, w, 1, -1)  # (h, w, ws, ws)
    return valid.reshape(h, w, -1)


def _tile_index(tile: int, max_dis: int, device) -> torch.Tensor:
    """(tile*tile, ws*ws): index of each window key inside a (tile+2r)^2 key tile."""
    ws, K = 2 * max_dis + 1, tile + 2 * max_dis
    i = torch.arange(tile, device=device)
    d = torch.arange(ws, device=device)  # dy + r, dx + r
    rows = (i.view(-1, 1) + d.view(1, -1)) * K  # (tile, ws): key row offset
    cols = i.view(-1, 1) + d.view(1, -1)  # (tile, ws)
    idx = rows.view(tile, 1, ws, 1) + cols.view(1, tile, 1, ws)  # (ty, tx, dy, dx)
    return idx.reshape(tile * tile, ws * ws)


def _query_tiles(x: torch.Tensor, tile: int) -> torch.Tensor:
    """(B, h, w, C) -> zero-padded non-overlapping tiles (B*nT, tile*tile, C)."""
    B, h, w, C = x.shape
    nty, ntx = -(-h // tile), -(-w // tile)
    x = F.pad(x, (0, 0, 0, ntx * tile - w, 0, nty * tile - h))  # (B, Hp, Wp, C)
    x = x.view(B, nty, tile, ntx, tile, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B * nty * ntx, tile * tile, C)


def _key_tiles(x: torch.Tensor, tile: int, r: int) -> torch.Tensor:
    """(B, h, w, C) -> overlapping (tile+2r)^2 key tiles (B*nT, (tile+2r)^2, C)."""
    B, h, w, C = x.shape
    nty, ntx = -(-h // tile), -(-w // tile)
    K = tile + 2 * r
    x = F.pad(x, (0, 0, r, ntx * tile - w + r, r, nty * tile - h + r))  # zero padding
    x = x.unfold(1, K, tile).unfold(2, K, tile)  # (B, nty, ntx, C, K, K)
    return x.permute(0, 1, 2, 4, 5, 3).reshape(B * nty * ntx, K * K, C)


def _untile(x: torch.Tensor, B: int, h: int, w: int, tile: int) -> torch.Tensor:
    """(B*nT, tile*tile, C) -> (B, h, w, C)."""
    nty, ntx = -(-h // tile), -(-w // tile)
    C = x.shape[-1]
    x = x.view(B, nty, ntx, tile, tile, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, nty * tile, ntx * tile, C)[:, :h, :w]


def local_attention_windowed(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    rel: torch.Tensor,
    max_dis: int = 7,
    tile: int = 8,
) -> torch.Tensor:
    """Window attention without a dense (h*w x h*w) matrix.

    Each tile of ``tile x tile`` queries attends to the ``(tile + 2r)^2`` keys that cover
    all their windows (one batched matmul); the 225 window logits of each query are
    gathered, biased, soft-maxed, and scattered back for the weighted sum.

    Args:
        q: (B, h, w, d) queries, already scaled by 1/sqrt(d).
        k: (B, h, w, d) keys of the previous frame.
        v: (B, h, w, C) values of the previous frame.
        rel: (B, h, w, ws*ws) relative-position logits (offset order (dy+r)*ws+(dx+r)).

    Returns: (B, h, w, C).
    Book: ch08, section "Short-term attention without a dense matrix".
    """
    B, h, w, _ = q.shape  # ws = 2 * max_dis + 1 below
    tile = max(1, min(tile, max(h, w)))
    idx = _tile_index(tile, max_dis, q.device)  # (T*T, ws*ws)
    valid = window_valid_mask(h, w, max_dis, q.device)  # (h, w, ws*ws)
    bias = rel.float().masked_fill(~valid, NEG_INF)  # (B, h, w, ws*ws); fp32 under AMP
    qt = _query_tiles(q, tile)  # (B*nT, T*T, d)
    kt = _key_tiles(k, tile, max_dis)  # (B*nT, K*K, d)
    logits = torch.bmm(qt, kt.transpose(1, 2))  # (B*nT, T*T, K*K)
    idx = idx.expand(logits.shape[0], -1, -1)  # (B*nT, T*T, ws*ws)
    logits = logits.gather(2, idx).float() + _query_tiles(
        bias, tile
    )  # (B*nT, T*T, ws*ws)
    attn = torch.softmax(logits, dim=-1)
    dense = logits.new_zeros(logits.shape[0], logits.shape[1], kt.shape[1])
    dense.scatter_(2, idx, attn)  # (B*nT, T*T, K*K), zero outside each window
    vt = _key_tiles(v, tile, max_dis)  # (B*nT, K*K, C)
    out = torch.bmm(dense.to(vt.dtype), vt)  # (B*nT, T*T, C)
    return _untile(out, B, h, w, tile)


def local_attention_dense(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    rel: torch.Tensor,
    max_dis: int = 7,
) -> torch.Tensor:
    """The official pure-PyTorch path: unfold K, window softmax, scatter to (h*w x h*w).

    Same arguments and result as ``local_attention_windowed``; kept as the baseline of
    ``benchmarks/deaot.py`` and for the book. Book: ch08 "Memory-based VOS and DeAOT".
    """
    B, h, w, d = q.shape
    ws, r = 2 * max_dis + 1, max_dis
    kp = F.pad(k.permute(0, 3, 1, 2), (r, r, r, r))  # (B, d, h+2r, w+2r)
    ku = F.unfold(kp, ws).view(B, d, ws * ws, h * w)  # (B, d, ws*ws, h*w)
    qk = (q.reshape(B, h * w, d).transpose(1, 2).unsqueeze(2) * ku).sum(
        1
    )  # (B, ws*ws, hw)
    valid = (
        window_valid_mask(h, w, max_dis, q.device).view(h * w, -1).t()
    )  # (ws*ws, hw)
    qk = (
        qk.float()
        + rel.reshape(B, h * w, -1).transpose(1, 2)
        + (~valid).float() * NEG_INF
    )
    attn = torch.softmax(qk, dim=1)  # (B, ws*ws, h*w)
    # local2global: place the window weights in a dense (h*w, (h+2r)*(w+2r)) matrix
    ky, kx = torch.meshgrid(
        torch.arange(h + 2 * r), torch.arange(w + 2 * r), indexing="ij"
    )
    qy, qx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    oy = qy.reshape(-1, 1) - ky.reshape(1, -1) + r
    ox = qx.reshape(-1, 1) - kx.reshape(1, -1) + r
    local_mask = ((oy.abs() <= r) & (ox.abs() <= r)).to(q.device)  # (hw, (h+2r)(w+2r))
    dense = torch.zeros(B, h * w, (h + 2 * r) * (w + 2 * r), device=q.device)
    dense[local_mask.expand(B, -1, -1)] = attn.transpose(1, 2).reshape(-1)
    dense = dense.view(B, h * w, h + 2 * r, w + 2 * r)[:, :, r:-r, r:-r]
    out = dense.reshape(B, h * w, h * w).to(v.dtype) @ v.reshape(
        B, h * w, -1
    )  # (B, hw, C)
    return out.view(B, h, w, -1)


class LocalGatedPropagation(nn.Module):
    """Short-term gated propagation over a (2 * max_dis + 1)^2 window.

    Logits = q.k / sqrt(d) + relative_emb_k(q) (a 1x1 conv d -> 225 applied to the
    unscaled q); out-of-image keys get -1e8. Then the same gate, DWConv and projection as
    ``GatedPropagation``. Keys ``relative_emb_k``, ``dw_conv``, ``projection``.

    Book: ch08, section "Short-term attention without a dense matrix".
    """

    def __init__(
        self,
        d_vu: int,
        d_att: int = 128,
        max_dis: int = 7,
        expand_ratio: float = 2.0,
        dense_fallback: bool = False,
    ):
        super().__init__()
        # True: the official dense formulation (benchmark baseline); per instance
        self.dense_fallback = dense_fallback
        self.d_att = d_att
        self.max_dis = max_dis
        ws = 2 * max_dis + 1
        self.d_middle = int(d_vu * expand_ratio)
        self.relative_emb_k = nn.Conv2d(d_att, ws * ws, kernel_size=1)
        self.dw_conv = DWConv2d(self.d_middle)
        self.projection = nn.Linear(self.d_middle, d_vu)

    def forward(
        self,
        Q: torch.Tensor,
        K: torch.Tensor,
        V: torch.Tensor,
        U: torch.Tensor,
        size_2d: tuple[int, int],
    ) -> torch.Tensor:
        """Q (h*w, B, d) current frame; K (h*w, B, d), V (h*w, B, 1024) previous frame."""
        h, w = size_2d
        N, B, d = Q.shape
        weight = self.relative_emb_k.weight.view(-1, d)  # (ws*ws, d)
        rel = F.linear(Q, weight, self.relative_emb_k.bias)  # (h*w, B, ws*ws)

        def to_2d(x: torch.Tensor) -> torch.Tensor:
            return x.view(h, w, B, -1).permute(2, 0, 1, 3)  # (B, h, w, C)

        fn = local_attention_dense if self.dense_fallback else local_attention_windowed
        out = fn(
            to_2d(Q) / math.sqrt(self.d_att),
            to_2d(K),
            to_2d(V),
            to_2d(rel),
            self.max_dis,
        )  # (B, h, w, 1024)
        out = out.permute(1, 2, 0, 3).reshape(N, B, -1)  # (h*w, B, 1024)
        out = self.dw_conv(apply_gate(out, U), size_2d)
        return self.projection(out)  # (h*w, B, d_vu)
