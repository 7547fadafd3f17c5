"""AOT's Long Short-Term Transformer (LSTT) block, with aot-benchmark's parameter names.

"LSTT ... [has] a long-term attention for matching with the memory frames and a
short-term attention for matching with the nearby frames" and "the identification
embeddings are attached to the visual embeddings of the memory frames" (AOT, Yang et
al., NeurIPS 2021, Sec. 3). One block, on tokens (h*w, B, C):

1. self-attention over the current frame, with a sine position embedding added to the
   queries and keys (``norm1``, ``self_attn``);
2. long-term attention (all memory frames) + short-term attention (a 15x15 window of
   the previous frame), both multi-head, both reading values in which the memory's ID
   embedding was *summed* with the visual embedding: ``V = linear_V(x + id_emb)``
   (``norm2``, ``linear_Q``, ``linear_V``, ``long_term_attn``, ``short_term_attn``);
3. a feed-forward block with a GroupNorm-GELU-depthwise-conv activation (``norm3``,
   ``linear1``, ``activation``, ``linear2``).

DeAOT's change is to keep the ID information in its own branch instead of summing it
into the visual one (``vos/deaot/gpm.py``).

Official code: yoxu515/aot-benchmark ``networks/layers/transformer.py``
(``LongShortTermTransformerBlock``), ``attention.py`` (``MultiheadAttention``,
``MultiheadLocalAttentionV2``), ``basic.py`` (``GNActDWConv2d``), ``position.py``.
Book: ch08, section "AOT, the baseline".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mvk_tutorial.vos.deaot.gpm import LayerMemory

NEG_INF = -1e8


def sine_position_embedding(h: int, w: int, dim: int, device=None) -> torch.Tensor:
    """Normalised 2-D sine embedding as tokens (h*w, 1, dim): ``dim/2`` channels encode
    the row, ``dim/2`` the column; coordinates 0..h-1 are scaled to [0, 2 pi].

    Book: ch08, section "AOT, the baseline".
    """
    n = dim // 2
    ys = torch.arange(h, device=device, dtype=torch.float32)
    xs = torch.arange(w, device=device, dtype=torch.float32)
    ys = ys / (ys[-1] + 1e-6) * 2 * math.pi
    xs = xs / (xs[-1] + 1e-6) * 2 * math.pi
    i = torch.arange(n, device=device, dtype=torch.float32)
    freq = 10000.0 ** (2 * torch.div(i, 2, rounding_mode="floor") / n)  # (n,)

    def enc(v: torch.Tensor) -> torch.Tensor:  # (L,) -> (L, n): sin/cos interleaved
        a = v[:, None] / freq
        return torch.stack([a[:, 0::2].sin(), a[:, 1::2].cos()], dim=2).flatten(1)

    ey, ex = enc(ys), enc(xs)  # (h, n), (w, n)
    pos = torch.cat(
        [ey[:, None].expand(h, w, n), ex[None].expand(h, w, n)], dim=-1
    )  # (h, w, dim)
    return pos.reshape(h * w, 1, dim)


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, B, C) -> (B, heads, N, C/heads)."""
    N, B, C = x.shape
    return x.view(N, B, heads, C // heads).permute(1, 2, 0, 3)


class MultiheadAttention(nn.Module):
    """Multi-head attention on tokens; keys ``linear_{Q,K,V}`` (if ``use_linear``),
    ``projection``. Book: ch08, section "AOT, the baseline"."""

    def __init__(self, d_model: int, num_head: int = 8, use_linear: bool = True):
        super().__init__()
        self.num_head, self.use_linear = num_head, use_linear
        if use_linear:
            self.linear_Q = nn.Linear(d_model, d_model)
            self.linear_K = nn.Linear(d_model, d_model)
            self.linear_V = nn.Linear(d_model, d_model)
        self.projection = nn.Linear(d_model, d_model)

    def forward(self, Q, K, V) -> torch.Tensor:
        """Q (L, B, C), K, V (N, B, C) -> (L, B, C)."""
        if self.use_linear:
            Q, K, V = self.linear_Q(Q), self.linear_K(K), self.linear_V(V)
        L, B, C = Q.shape
        q, k, v = (_heads(x, self.num_head) for x in (Q, K, V))  # (B, heads, *, d)
        scale = 1.0 / math.sqrt(C // self.num_head)
        attn = torch.softmax((q * scale) @ k.transpose(-1, -2), dim=-1)  # (B, h, L, N)
        out = (attn @ v).permute(2, 0, 1, 3).reshape(L, B, C)  # (L, B, C)
        return self.projection(out)


class MultiheadLocalAttention(nn.Module):
    """Multi-head attention of each query over a (2r+1)^2 window of the previous frame,
    with learnt relative-position terms on the logits (``relative_emb_k``, a grouped
    1x1 conv of the query) and on the output (``relative_emb_v``, one vector per head
    and offset, weighted by the attention). Keys ``relative_emb_k``, ``relative_emb_v``,
    ``projection``. Book: ch08, section "AOT, the baseline"."""

    def __init__(self, d_model: int, num_head: int = 8, max_dis: int = 7):
        super().__init__()
        self.num_head, self.max_dis = num_head, max_dis
        ws2 = (2 * max_dis + 1) ** 2
        self.relative_emb_k = nn.Conv2d(d_model, num_head * ws2, 1, groups=num_head)
        self.relative_emb_v = nn.Parameter(torch.zeros(num_head, d_model // num_head, ws2))
        self.projection = nn.Linear(d_model, d_model)

    def forward(self, q, k, v, size_2d) -> tuple[torch.Tensor, torch.Tensor]:
        """q, k, v (N, B, C) tokens of h*w -> output (N, B, C) and attention
        (B, heads, ws*ws, N) (offset index (dy+r)*ws + (dx+r))."""
        h, w = size_2d
        N, B, C = q.shape
        H, d, r = self.num_head, C // self.num_head, self.max_dis
        ws = 2 * r + 1
        q2 = q.permute(1, 2, 0).reshape(B, C, h, w)  # (B, C, h, w)
        rel = self.relative_emb_k(q2).view(B, H, ws * ws, N)  # unscaled q, as official

        def unfold(x):  # (N, B, C) -> (B, H, d, ws*ws, N), zero outside the image
            x = x.permute(1, 2, 0).reshape(B, C, h, w)
            return F.unfold(x, ws, padding=r).view(B, H, d, ws * ws, N)

        qh = q.permute(1, 2, 0).reshape(B, H, d, 1, N) / math.sqrt(d)
        logits = (qh * unfold(k)).sum(2) + rel  # (B, H, ws*ws, N)
        inside = F.unfold(q.new_ones(1, 1, h, w), ws, padding=r).view(1, 1, ws * ws, N)
        logits = logits.float().masked_fill(inside == 0, NEG_INF)
        attn = torch.softmax(logits, dim=2).to(v.dtype)  # (B, H, ws*ws, N)
        out = (attn.unsqueeze(2) * unfold(v)).sum(3)  # (B, H, d, N)
        out = out + torch.einsum("bhwn,hcw->bhcn", attn, self.relative_emb_v)
        out = out.reshape(B, C, N).permute(2, 0, 1)  # (N, B, C)
        return self.projection(out), attn


class GNActDWConv2d(nn.Module):
    """GroupNorm(32) -> GELU -> 5x5 depthwise conv on tokens; keys ``gn``, ``conv``.

    Book: ch08, section "AOT, the baseline".
    """

    def __init__(self, dim: int, gn_groups: int = 32):
        super().__init__()
        self.gn = nn.GroupNorm(gn_groups, dim)
        self.conv = nn.Conv2d(dim, dim, 5, padding=2, groups=dim, bias=False)

    def forward(self, x: torch.Tensor, size_2d) -> torch.Tensor:
        h, w = size_2d
        N, B, C = x.shape
        x = x.view(h, w, B, C).permute(2, 3, 0, 1)  # (B, C, h, w)
        x = self.conv(F.gelu(self.gn(x)))
        return x.reshape(B, C, N).permute(2, 0, 1)  # (N, B, C)


class LongShortTermTransformerBlock(nn.Module):
    """One LSTT block (see the module docstring). Book: ch08, section "AOT, the baseline"."""

    def __init__(self, d_model=256, self_nhead=8, att_nhead=8, dim_feedforward=1024,
                 max_local_dis=7):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.linear_Q = nn.Linear(d_model, d_model)
        self.linear_V = nn.Linear(d_model, d_model)
        self.long_term_attn = MultiheadAttention(d_model, att_nhead, use_linear=False)
        self.short_term_attn = MultiheadLocalAttention(d_model, att_nhead, max_local_dis)
        self.norm2 = nn.LayerNorm(d_model)
        self.self_attn = MultiheadAttention(d_model, self_nhead)
        self.norm3 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.activation = GNActDWConv2d(dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)

    def fuse_id_value(self, value: torch.Tensor, id_emb: torch.Tensor) -> torch.Tensor:
        """Memory values: ``linear_V(visual + ID)`` (the summed embedding of AOT)."""
        return self.linear_V(value + id_emb)

    def forward(self, tgt, long_term, short_term, size_2d, pos, id_emb=None):
        """tgt (N, B, C); returns (tgt, LayerMemory(K, visual V) of this frame)."""
        _tgt = self.norm1(tgt)
        qk = _tgt + pos  # (N, B, C): position only in queries and keys
        tgt = tgt + self.self_attn(qk, qk, _tgt)
        _tgt = self.norm2(tgt)
        Q = self.linear_Q(_tgt)  # queries = keys of this frame
        frame = LayerMemory(Q, _tgt)
        if id_emb is not None:  # reference frame: its own memory
            long_term = short_term = LayerMemory(Q, self.fuse_id_value(_tgt, id_emb))
        out = self.long_term_attn(Q, long_term.K, long_term.V)
        out = out + self.short_term_attn(Q, short_term.K, short_term.V, size_2d)[0]
        tgt = tgt + out
        _tgt = self.norm3(tgt)
        tgt = tgt + self.linear2(self.activation(self.linear1(_tgt), size_2d))
        return tgt, frame


class LongShortTermTransformer(nn.Module):
    """The stack of LSTT blocks (keys ``layers``, ``decoder_norms``). Returns the
    per-layer outputs, each LayerNorm-ed (``decoder_norms[i]``; the last norm is the
    final one), and the per-layer memories of the current frame.

    Book: ch08, section "AOT, the baseline".
    """

    def __init__(self, num_layers, d_model=256, self_nhead=8, att_nhead=8,
                 dim_feedforward=1024, max_local_dis=7):
        super().__init__()
        self.layers = nn.ModuleList(
            LongShortTermTransformerBlock(
                d_model, self_nhead, att_nhead, dim_feedforward, max_local_dis
            )
            for _ in range(num_layers)
        )
        self.decoder_norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(num_layers))

    def forward(self, tgt, long_term, short_term, size_2d, pos, id_emb=None):
        outs, frames = [], []
        for i, layer in enumerate(self.layers):
            lt = long_term[i] if long_term is not None else None
            st = short_term[i] if short_term is not None else None
            tgt, frame = layer(tgt, lt, st, size_2d, pos, id_emb)
            outs.append(self.decoder_norms[i](tgt))
            frames.append(frame)
        return outs, frames
