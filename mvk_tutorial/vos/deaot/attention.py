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

from mvk_tutorial.vos.deaot.fused import Linear, conv2d, cpu_inference, linear, matmul_nt

NEG_INF = -1e8  # logit of out-of-image window positions (official value)


class DWConv2d(nn.Module):
    """5x5 depthwise conv (no bias) on tokens (h*w, B, C). Key ``conv.weight``."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 5, padding=2, groups=dim, bias=False)
        self.fused = True  # False: F.conv2d (the official path; switches.py)

    def forward(self, x: torch.Tensor, size_2d: tuple[int, int]) -> torch.Tensor:
        h, w = size_2d
        N, B, C = x.shape
        x = x.view(h, w, B, C).permute(
            2, 3, 0, 1
        )  # (B, C, h, w), channels-last strides
        # a channels-last weight keeps the whole conv channels-last: no transposes;
        # fused.conv2d calls oneDNN directly at inference (same numbers, 1.2x faster)
        weight = self.conv.weight.to(memory_format=torch.channels_last)
        conv = conv2d if self.fused else F.conv2d
        x = conv(x, weight, None, 1, 2, 1, C)
        return x.permute(2, 3, 0, 1).reshape(N, B, C)  # (h*w, B, C), a view


def global_attention(
    Q: torch.Tensor,
    K: torch.Tensor,
    V: torch.Tensor,
    scale: float,
    max_elements: int = 1 << 24,
    onednn: bool = True,
) -> torch.Tensor:
    """softmax(Q K^T * scale) V for tokens: Q (L, B, d), K (N, B, d), V (N, B, C) -> (L, B, C).

    Written out (scale Q, matmul, softmax, matmul) as the official code does; on a CPU
    this is as fast as ``F.scaled_dot_product_attention``, whose fallback adds passes. On
    CUDA the fused kernel is used. Queries are processed in chunks so that the attention
    matrix never exceeds ``max_elements`` entries (long-term memory of long videos).
    ``onednn``: the logits Q K^T through ``fused.matmul_nt`` (oneDNN on a CPU) and the
    soft-max written over them (``softmax_``), rather than ``torch.bmm`` and
    ``torch.softmax`` (the official path).
    Book: ch08 "Memory-based VOS and DeAOT".
    """
    if Q.is_cuda:
        q, k, v = (x.permute(1, 0, 2).unsqueeze(1) for x in (Q, K, V))  # (B, 1, *, *)
        out = F.scaled_dot_product_attention(q, k, v, scale=scale)  # (B, 1, L, C)
        return out.squeeze(1).permute(1, 0, 2)  # (L, B, C)
    L, B, _ = Q.shape
    N = K.shape[0]
    step = max(1, max_elements // max(1, N * B))
    Kb = K.transpose(0, 1)  # (B, N, d)
    Vb = V.transpose(0, 1)  # (B, N, C)
    # oneDNN's product wants V^T as its row-major "weight": one copy for all chunks
    Vt = tokens_transposed(V) if onednn and cpu_inference(V) else None  # (B, C, N)
    outs = []
    for s in range(0, L, step):
        q = (Q[s : s + step] * scale).transpose(0, 1)  # (B, l, d)
        logits = matmul_nt(q, Kb) if onednn else torch.bmm(q, Kb.transpose(1, 2))
        attn = softmax_(logits) if onednn else torch.softmax(logits, -1)  # (B, l, N)
        if Vt is not None and attn.dtype == Vt.dtype:
            outs.append(matmul_nt(attn, Vt))  # (B, l, C)
        else:
            outs.append(torch.bmm(attn.to(Vb.dtype), Vb))  # (B, l, C)
    out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
    return out.transpose(0, 1)  # (L, B, C)


def tokens_transposed(x: torch.Tensor) -> torch.Tensor:
    """Tokens (N, B, C) -> (B, C, N), contiguous: V^T, the row-major "weight" of
    oneDNN's product A V.

    One 2-D transpose per batch item: PyTorch copies a transposed 2-D matrix in cache
    blocks, about 10x faster than its generic copy of the permuted 3-D view (whose
    reads jump a page per element). Book: ch08, section "Where the remaining time goes".
    """
    planes = [x[:, b].contiguous().t().contiguous() for b in range(x.shape[1])]  # (C, N)
    return planes[0].unsqueeze(0) if len(planes) == 1 else torch.stack(planes)


def softmax_(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim, written over ``x`` at CPU inference (a fresh 11 MB
    result for each 1674 x 1674 map costs page faults); ``torch.softmax`` elsewhere.
    The same kernel, so the same numbers.

    Book: ch08, section "Where the remaining time goes".
    """
    if cpu_inference(x) and x.is_contiguous():
        return torch.ops.aten._softmax.out(x, -1, False, out=x)
    return torch.softmax(x, dim=-1)


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
            self.linear_QK = Linear(d_qk, d_att)
            self.linear_V1 = Linear(half, half_mid)
            self.linear_V2 = Linear(half, half_mid)
            self.linear_U1 = Linear(half, half_mid)
            self.linear_U2 = Linear(half, half_mid)
        self.dw_conv = DWConv2d(self.d_middle)
        self.projection = Linear(self.d_middle, d_vu)
        self.onednn = True  # False: Q K^T by torch.bmm (the official path; switches.py)

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
        scale = 1.0 / math.sqrt(self.d_att)
        out = global_attention(Q, K, V, scale, onednn=self.onednn)  # (L, B, 1024)
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

    Each tile of queries attends to the keys that cover all their windows (one batched
    matmul); the 225 window logits of each query are gathered, biased, soft-maxed, and
    scattered back for the weighted sum. Without autograd the tiles are ``tile`` rows by
    about ``2 * tile`` columns and their keys are read in place from column bands of the
    padded keys and values (``_windowed_bands``); with autograd, square ``tile x tile``
    tiles whose ``(tile + 2r)^2`` keys are copied out (``_windowed_tiles``). Both give
    the numbers of the dense formulation up to float summation order.

    Args:
        q: (B, h, w, d) queries, already scaled by 1/sqrt(d).
        k: (B, h, w, d) keys of the previous frame.
        v: (B, h, w, C) values of the previous frame.
        rel: (B, h, w, ws*ws) relative-position logits (offset order (dy+r)*ws+(dx+r)).

    Returns: (B, h, w, C).
    Book: ch08, section "Short-term attention without a dense matrix".
    """
    needs_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (q, k, v, rel)
    )
    fn = _windowed_tiles if needs_grad else _windowed_bands
    return fn(q, k, v, rel, max_dis, tile)


def _window_bias(rel: torch.Tensor, max_dis: int) -> torch.Tensor:
    """rel (B, h, w, ws*ws) with out-of-image offsets at NEG_INF, in fp32 (also AMP)."""
    _, h, w, _ = rel.shape
    valid = window_valid_mask(h, w, max_dis, rel.device)  # (h, w, ws*ws)
    return rel.float().masked_fill(~valid, NEG_INF)


def _windowed_tiles(q, k, v, rel, max_dis: int, tile: int) -> torch.Tensor:
    """Square query tiles, their key tiles copied out (differentiable path)."""
    B, h, w, _ = q.shape  # ws = 2 * max_dis + 1 below
    tile = max(1, min(tile, max(h, w)))
    idx = _tile_index(tile, max_dis, q.device)  # (T*T, ws*ws)
    bias = _window_bias(rel, max_dis)  # (B, h, w, ws*ws)
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


def _band_index(ty: int, tx: int, max_dis: int, device) -> torch.Tensor:
    """(ty*tx, ws*ws): index of each window key inside a (ty+2r) x (tx+2r) key tile."""
    ws, Kx = 2 * max_dis + 1, tx + 2 * max_dis
    d = torch.arange(ws, device=device)  # dy + r, dx + r
    rows = (torch.arange(ty, device=device).view(-1, 1) + d.view(1, -1)) * Kx
    cols = torch.arange(tx, device=device).view(-1, 1) + d.view(1, -1)  # (tx, ws)
    idx = rows.view(ty, 1, ws, 1) + cols.view(1, tx, 1, ws)  # (ty, tx, dy, dx)
    return idx.reshape(ty * tx, ws * ws)


def _column_bands(x: torch.Tensor, ntx: int, tx: int, r: int, Hp: int) -> torch.Tensor:
    """(B, h, w, C) -> (B, ntx, Hp, tx + 2r, C): the zero-padded key columns that the
    queries of each column band of width ``tx`` can see, each band contiguous."""
    B, h, w, C = x.shape
    Kx = tx + 2 * r
    # zero only the padding: filling all of a fresh buffer costs a page fault per 4 KiB
    out = x.new_empty(B, ntx, Hp, Kx, C)
    out[:, :, :r].zero_()
    out[:, :, r + h :].zero_()
    for j in range(ntx):
        x0 = j * tx - r  # image column of the band's first key column
        a, b = max(0, x0), min(w, x0 + Kx)
        band = out[:, j, r : r + h]  # (B, h, Kx, C)
        band[:, :, : max(0, a - x0)].zero_()  # left of the image
        band[:, :, max(0, b - x0) :].zero_()  # right of the image
        if b > a:
            band[:, :, a - x0 : b - x0] = x[:, :, a:b]
    return out


def _windowed_bands(q, k, v, rel, max_dis: int, tile: int) -> torch.Tensor:
    """Query tiles of ``ty x tx``; the keys of every tile of a column band are an
    overlapping strided view of that band (no copy per tile). Inference path."""
    B, h, w, d = q.shape
    C, r = v.shape[-1], max_dis
    ty = max(1, min(tile, h))
    ntx = max(1, -(-w // (2 * tile)))  # column bands of about 2 * tile queries
    tx = -(-w // ntx)
    nty = -(-h // ty)
    Ky, Kx = ty + 2 * r, tx + 2 * r
    Hp = nty * ty + 2 * r
    idx = _band_index(ty, tx, r, q.device).expand(nty, -1, -1)  # (nty, ty*tx, ws*ws)
    bias = _window_bias(rel, r)  # (B, h, w, ws*ws)
    kb = _column_bands(k, ntx, tx, r, Hp)  # (B, ntx, Hp, Kx, d)
    vb = _column_bands(v, ntx, tx, r, Hp)  # (B, ntx, Hp, Kx, C)

    def query_tiles(x: torch.Tensor, j: int) -> torch.Tensor:
        """(h, w, c) -> (nty, ty*tx, c): the zero-padded queries of column band j."""
        xs = x[:, j * tx : (j + 1) * tx]
        xs = F.pad(xs, (0, 0, 0, tx - xs.shape[1], 0, nty * ty - h))  # (nty*ty, tx, c)
        return xs.reshape(nty, ty * tx, x.shape[-1])

    def key_tiles(band: torch.Tensor) -> torch.Tensor:
        """(Hp, Kx, c) band -> (nty, Ky*Kx, c) overlapping view: tile i starts at row
        i * ty of the band, and its Ky rows of Kx keys are contiguous."""
        c = band.shape[-1]
        return band.as_strided((nty, Ky * Kx, c), (ty * Kx * c, c, 1))

    out = q.new_empty(B, nty * ty, ntx * tx, C)
    for b in range(B):
        for j in range(ntx):
            logits = matmul_nt(query_tiles(q[b], j), key_tiles(kb[b, j]))
            # (nty, ty*tx, Ky*Kx) -> the window's 225 logits of each query
            win = logits.gather(2, idx).float() + query_tiles(bias[b], j)
            dense = win.new_zeros(logits.shape).scatter_(2, idx, torch.softmax(win, -1))
            vt = key_tiles(vb[b, j]).transpose(1, 2)  # (nty, C, Ky*Kx)
            o = matmul_nt(dense.to(v.dtype), vt)  # (nty, ty*tx, C)
            out[b, :, j * tx : (j + 1) * tx] = o.view(nty * ty, tx, C)
    return out[:, :h, :w]


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
        self.projection = Linear(self.d_middle, d_vu)

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
        lin = F.linear if self.dense_fallback else linear
        rel = lin(Q, weight, self.relative_emb_k.bias)  # (h*w, B, ws*ws)

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
