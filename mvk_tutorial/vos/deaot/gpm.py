"""Gated Propagation Modules with decoupled visual and identification branches.

"DeAOT decouples the hierarchical propagation of object-agnostic and object-specific
embeddings by handling them in two independent branches" (DeAOT, abstract). Memory
matching uses visual Q/K only; values and gates carry both branches; self-propagation
mixes them. There is no feed-forward network.

Official code: yoxu515/aot-benchmark ``networks/layers/transformer.py``
(``GatedPropagationModule``, ``DualBranchGPM``).
Book: ch08, section "The Gated Propagation Module".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mvk_tutorial.vos.deaot.attention import GatedPropagation, LocalGatedPropagation
from mvk_tutorial.vos.deaot.fused import Linear


@dataclass
class LayerMemory:
    """What one GPM layer keeps of one frame (tokens, (N, B, C)).

    ``K`` (N, B, 128) visual keys; ``V`` (N, B, 1024) = cat[visual V (512), ID V (512)]
    once the frame's mask is known. ``id_input`` is the normalised ID-branch input of
    that layer (None in layer 0), needed to fuse the ID values when the mask arrives.
    ``id_value`` (N, B, 512): the ID values, set only by a pass with the frame's own ID
    embedding (a reference frame), where the layer computes them anyway.
    """

    K: torch.Tensor
    V: torch.Tensor
    id_input: torch.Tensor | None = None
    id_value: torch.Tensor | None = None


class GroupNorm1D(nn.Module):
    """GroupNorm over tokens (N, B, C); key ``gn``."""

    def __init__(self, dim: int, groups: int):
        super().__init__()
        self.gn = nn.GroupNorm(groups, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as ``gn`` on (B, C, N), computed on the tokens without a transpose."""
        N, B, C = x.shape
        G = self.gn.num_groups
        xg = x.float().view(N, B, G, C // G)  # statistics in fp32, also under AMP
        # two passes (mean, then mean of squared deviations): reductions over the
        # token axis run along memory, several times faster than var_mean over (0, 3)
        mean = xg.mean(dim=(0, 3), keepdim=True)  # (1, B, G, 1)
        d = xg - mean
        var = (d * d).mean(dim=(0, 3), keepdim=True)
        y = d * torch.rsqrt(var + self.gn.eps)  # (N, B, G, C/G)
        return (y.view(N, B, C) * self.gn.weight + self.gn.bias).to(x.dtype)


class GatedPropagationModule(nn.Module):
    """One DeAOT layer: long-term + short-term gated propagation, then self-propagation.

    Args:
        d_model: token dim of each branch (256).
        layer_idx: 0 for the first layer (its ID branch input is zero and ungated).
        max_local_dis: short-term window radius (7 -> 15x15).
        expand_ratio: value / gate expansion (2).

    Book: ch08 "Memory-based VOS and DeAOT".
    """

    def __init__(
        self,
        d_model: int = 256,
        layer_idx: int = 0,
        max_local_dis: int = 7,
        expand_ratio: float = 2.0,
    ):
        super().__init__()
        d_att = d_model // 2
        self.d_model, self.d_att, self.layer_idx = d_model, d_att, layer_idx
        self.expand_d_model = int(d_model * expand_ratio)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear_QV = Linear(d_model, d_att + self.expand_d_model)
        self.linear_U = Linear(d_model, self.expand_d_model)
        if layer_idx == 0:
            self.linear_ID_V = Linear(d_model, self.expand_d_model)
        else:
            self.id_norm1 = nn.LayerNorm(d_model)
            self.linear_ID_V = Linear(d_model * 2, self.expand_d_model)
            self.linear_ID_U = Linear(d_model, self.expand_d_model)
        self.long_term_attn = GatedPropagation(
            d_model, d_model * 2, d_att, use_linear=False, expand_ratio=expand_ratio
        )
        self.short_term_attn = LocalGatedPropagation(
            d_model * 2, d_att, max_local_dis, expand_ratio
        )
        self.norm2 = nn.LayerNorm(d_model)
        self.id_norm2 = nn.LayerNorm(d_model)
        self.self_attn = GatedPropagation(
            d_model * 2, d_model * 2, d_att, use_linear=True, expand_ratio=expand_ratio
        )

    def fuse_id_value(
        self, id_input: torch.Tensor | None, id_emb: torch.Tensor
    ) -> torch.Tensor:
        """ID values of a memory frame: silu(linear_ID_V([id_input,] id_emb)) (N, B, 512)."""
        x = id_emb if id_input is None else torch.cat([id_input, id_emb], dim=-1)
        return F.silu(self.linear_ID_V(x))

    def forward(
        self,
        tgt: torch.Tensor,
        tgt_id: torch.Tensor | None,
        long_term: LayerMemory | None,
        short_term: LayerMemory | None,
        size_2d: tuple[int, int],
        id_emb: torch.Tensor | None = None,
    ):
        """tgt, tgt_id: (N, B, 256). With ``id_emb`` (reference frame) the frame is its own
        memory. Returns (tgt, tgt_id, LayerMemory of this frame without ID values)."""
        _tgt = self.norm1(tgt)
        Q, V = self.linear_QV(_tgt).split([self.d_att, self.expand_d_model], dim=-1)
        V = F.silu(V)  # (N, B, 512)
        U = self.linear_U(_tgt)  # (N, B, 512)
        if tgt_id is None:  # layer 0: the ID half of the output is not gated
            id_input = None
            gate = F.silu(U)  # (N, B, 512): official cat[silu(U), ones], see apply_gate
        else:
            id_input = self.id_norm1(tgt_id)
            gate = F.silu(torch.cat([U, self.linear_ID_U(id_input)], dim=-1))
        frame = LayerMemory(Q, V, id_input)
        if id_emb is not None:  # the frame is its own memory; ID values fused once
            frame.id_value = self.fuse_id_value(id_input, id_emb)  # (N, B, 512)
            long_term = short_term = LayerMemory(
                Q, torch.cat([V, frame.id_value], dim=-1)
            )
        out = self.long_term_attn(Q, long_term.K, long_term.V, gate, size_2d)
        out = out + self.short_term_attn(Q, short_term.K, short_term.V, gate, size_2d)
        vis, idb = out.split(self.d_model, dim=-1)  # (N, B, 256) each
        tgt = tgt + vis
        tgt_id = idb if tgt_id is None else tgt_id + idb
        x = torch.cat([self.norm2(tgt), self.id_norm2(tgt_id)], dim=-1)  # (N, B, 512)
        vis, idb = self.self_attn(x, x, x, x, size_2d).split(self.d_model, dim=-1)
        return tgt + vis, tgt_id + idb, frame


class DualBranchGPM(nn.Module):
    """The stack of GPM layers (official ``DualBranchGPM``; keys ``layers``,
    ``decoder_norms``). Returns the GroupNorm-ed cat[visual, ID] (N, B, 512) of the last
    layer and the per-layer memories of the current frame.

    Book: ch08 "Memory-based VOS and DeAOT".
    """

    def __init__(
        self,
        num_layers: int,
        d_model: int = 256,
        max_local_dis: int = 7,
        expand_ratio: float = 2.0,
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            GatedPropagationModule(d_model, i, max_local_dis, expand_ratio)
            for i in range(num_layers)
        )
        self.decoder_norms = nn.ModuleList([GroupNorm1D(d_model * 2, 2)])

    def forward(
        self,
        tgt: torch.Tensor,
        long_term: list[LayerMemory] | None,
        short_term: list[LayerMemory] | None,
        size_2d: tuple[int, int],
        id_emb: torch.Tensor | None = None,
    ):
        tgt_id = None
        frames = []
        for i, layer in enumerate(self.layers):
            lt = long_term[i] if long_term is not None else None
            st = short_term[i] if short_term is not None else None
            tgt, tgt_id, frame = layer(tgt, tgt_id, lt, st, size_2d, id_emb)
            frames.append(frame)
        out = self.decoder_norms[-1](torch.cat([tgt, tgt_id], dim=-1))  # (N, B, 512)
        return out, frames
