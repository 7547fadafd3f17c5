"""The single-branch ablation of DeAOT: one token stream carries both appearance and identity.

The DeAOT paper asks "are separate branches complicated? one branch is good enough?"
and answers with an ablation in which the identity is not kept in a branch of its own.
Here that variant is a GPM stack of the same shape with one branch: a memory frame's
value is its visual value *plus* its ID value (``V = silu(W_v x) + silu(W_id ID)``, the
identity summed into the value as AOT does), attention and gates are as in DeAOT, and
every layer propagates one ``d_model``-wide token per position instead of a visual and
an ID token. Nothing is concatenated, so the stack, the short-term window and the
decoder input are half as wide.

To plug into ``DeAOT`` unchanged, the memory keeps DeAOT's layout ``V = cat[visual V,
ID V]`` (``LayerMemory``), and a layer sums the two halves before it reads them: the
same numbers as storing the sum.

Ours, not official (no official checkpoint has this layout). Configuration
``deaot-mini-single`` (``configs.CPU_CONFIGS``).

Book: ch08, section "One branch or two?".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mvk_tutorial.vos.deaot.attention import GatedPropagation, LocalGatedPropagation
from mvk_tutorial.vos.deaot.fused import Linear
from mvk_tutorial.vos.deaot.gpm import GroupNorm1D, LayerMemory


def summed_value(memory: LayerMemory) -> LayerMemory:
    """``cat[visual V, ID V]`` (N, B, 2E) -> visual V + ID V (N, B, E).

    Book: ch08, section "One branch or two?"."""
    vis, idv = memory.V.chunk(2, dim=-1)  # (N, B, E) each
    return LayerMemory(memory.K, vis + idv)


class SingleBranchGPM(nn.Module):
    """One single-branch GPM layer: long-term + short-term gated propagation over the
    summed value, then self-propagation; tokens (N, B, d_model).

    Book: ch08, section "One branch or two?".
    """

    def __init__(self, d_model: int, max_local_dis: int = 7, expand_ratio: float = 2.0):
        super().__init__()
        d_att = d_model // 2
        self.d_model, self.d_att = d_model, d_att
        self.expand_d_model = int(d_model * expand_ratio)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear_QV = Linear(d_model, d_att + self.expand_d_model)
        self.linear_U = Linear(d_model, self.expand_d_model)
        self.linear_ID_V = Linear(d_model, self.expand_d_model)
        self.long_term_attn = GatedPropagation(
            d_model, d_model, d_att, use_linear=False, expand_ratio=expand_ratio
        )
        self.short_term_attn = LocalGatedPropagation(
            d_model, d_att, max_local_dis, expand_ratio
        )
        self.norm2 = nn.LayerNorm(d_model)
        self.self_attn = GatedPropagation(
            d_model, d_model, d_att, use_linear=True, expand_ratio=expand_ratio
        )

    def fuse_id_value(self, id_input, id_emb: torch.Tensor) -> torch.Tensor:
        """ID value of a memory frame: silu(linear_ID_V(id_emb)) (N, B, E); ``id_input``
        is always None here (there is no ID branch to read)."""
        return F.silu(self.linear_ID_V(id_emb))

    def forward(self, tgt, tgt_id, long_term, short_term, size_2d, id_emb=None):
        """tgt (N, B, d_model); ``tgt_id`` is unused (None). Same contract as
        ``GatedPropagationModule.forward``."""
        _tgt = self.norm1(tgt)
        Q, V = self.linear_QV(_tgt).split([self.d_att, self.expand_d_model], dim=-1)
        V = F.silu(V)  # (N, B, E)
        gate = F.silu(self.linear_U(_tgt))  # (N, B, E)
        frame = LayerMemory(Q, V, None)
        if id_emb is not None:  # a reference frame is its own memory
            frame.id_value = self.fuse_id_value(None, id_emb)  # (N, B, E)
            long_term = short_term = LayerMemory(Q, torch.cat([V, frame.id_value], -1))
        lt, st = summed_value(long_term), summed_value(short_term)
        out = self.long_term_attn(Q, lt.K, lt.V, gate, size_2d)
        out = out + self.short_term_attn(Q, st.K, st.V, gate, size_2d)  # (N, B, d_model)
        tgt = tgt + out
        x = self.norm2(tgt)
        return tgt + self.self_attn(x, x, x, x, size_2d), None, frame


class SingleBranchStack(nn.Module):
    """The stack of single-branch layers; returns GroupNorm-ed tokens (N, B, d_model)
    and the per-layer memories of the current frame (as ``DualBranchGPM``).

    Book: ch08, section "One branch or two?".
    """

    def __init__(self, num_layers, d_model, max_local_dis=7, expand_ratio=2.0):
        super().__init__()
        self.layers = nn.ModuleList(
            SingleBranchGPM(d_model, max_local_dis, expand_ratio) for _ in range(num_layers)
        )
        self.decoder_norms = nn.ModuleList([GroupNorm1D(d_model, 2)])

    def forward(self, tgt, long_term, short_term, size_2d, id_emb=None):
        frames = []
        for i, layer in enumerate(self.layers):
            lt = long_term[i] if long_term is not None else None
            st = short_term[i] if short_term is not None else None
            tgt, _, frame = layer(tgt, None, lt, st, size_2d, id_emb)
            frames.append(frame)
        return self.decoder_norms[-1](tgt), frames
