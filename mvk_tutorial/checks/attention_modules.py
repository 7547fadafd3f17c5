"""Checks for the module-sized exercises of ch01 and ch02.

``checks.cross_attention(MyCrossAttention)``: a multi-head attention module with its
own key and value widths, checked against ``torch.nn.MultiheadAttention``.
``checks.vit_block(MyBlock)``: the pre-norm ViT encoder block, checked against the
package's ``Block``.

Book: ch01, section "Exercises".
"""

from __future__ import annotations

import torch
from torch import nn

from mvk_tutorial.checks.robust import as_tensor, call, fail
from mvk_tutorial.attention.vit import Block

_MHA_HINT = (
    "q = query @ q_proj_weight.T + b_q (and the same for k, v with their own weights; "
    "in_proj_bias holds [b_q, b_k, b_v]); split each into heads (B, n, E) -> "
    "(B, h, n, E/h); softmax(q k^T / sqrt(E/h)) with key_padding_mask=True keys set "
    "to -inf; weights @ v; merge the heads; out_proj. Return (output, weights averaged "
    "over the heads)."
)


def _torch_to_separate(sd: dict, embed_dim: int) -> dict:
    """nn.MultiheadAttention's state dict with q/k/v_proj_weight always separate."""
    sd = dict(sd)
    if "in_proj_weight" in sd:  # kdim == vdim == embed_dim: one stacked matrix
        w = sd.pop("in_proj_weight")  # (3E, E)
        sd["q_proj_weight"], sd["k_proj_weight"], sd["v_proj_weight"] = w.split(
            embed_dim
        )
    return sd


def cross_attention(candidate) -> None:
    """Check ``candidate(embed_dim, num_heads, kdim=None, vdim=None)``, an ``nn.Module``.

    It must have the parameters of ``torch.nn.MultiheadAttention`` with separate
    projections: ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim), ``in_proj_bias`` (3E,) and ``out_proj`` (a Linear
    E -> E); ``forward(query, key, value, key_padding_mask=None)`` takes (B, n_q, E),
    (B, n_k, kdim), (B, n_k, vdim) and a boolean (B, n_k) mask (True = ignore that
    key, PyTorch's convention) and returns (output (B, n_q, E), weights (B, n_q, n_k)
    averaged over the heads).

    Book: ch01, section "Exercises".
    """
    name = "cross_attention"
    g = torch.Generator().manual_seed(11)
    cases = [  # (description, E, heads, kdim, vdim, B, n_q, n_k, padded)
        ("self-attention, E=8, 2 heads", 8, 2, None, None, 2, 5, 5, False),
        ("one head, E=6", 6, 1, None, None, 1, 4, 4, False),
        ("cross-attention: E=12, 3 heads, kdim=6, vdim=10", 12, 3, 6, 10, 2, 4, 7, False),
        ("cross-attention with a key padding mask", 8, 4, 5, 5, 3, 3, 6, True),
    ]
    for i, (desc, E, h, kdim, vdim, B, n_q, n_k, padded) in enumerate(cases, 1):
        where = f"case {i}/{len(cases)} ({desc})"
        torch.manual_seed(100 + i)
        ref = nn.MultiheadAttention(
            E, h, kdim=kdim, vdim=vdim, batch_first=True, dtype=torch.float64
        ).eval()
        with torch.no_grad():
            ref.in_proj_bias.normal_(0, 0.5, generator=g)
            ref.out_proj.bias.normal_(0, 0.5, generator=g)
        mod = call(name, candidate, _MHA_HINT, E, h, kdim=kdim, vdim=vdim)
        if not isinstance(mod, nn.Module):
            raise fail(name, f"{where}: expected an nn.Module, got {type(mod).__name__}", _MHA_HINT)
        mod = mod.double().eval()
        sd = _torch_to_separate(ref.state_dict(), E)
        try:
            mod.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            expected = {k: tuple(v.shape) for k, v in sd.items()}
            raise fail(
                name,
                f"{where}: the parameters do not match nn.MultiheadAttention's "
                f"({exc}); expected {expected}",
                _MHA_HINT,
            ) from None
        q = torch.randn(B, n_q, E, generator=g, dtype=torch.float64)
        if kdim is None and n_q == n_k:
            k = v = q
        else:
            k = torch.randn(B, n_k, kdim or E, generator=g, dtype=torch.float64)
            v = torch.randn(B, n_k, vdim or E, generator=g, dtype=torch.float64)
        mask = None
        if padded:
            lengths = torch.tensor([n_k, 2, 4])[:B]
            mask = torch.arange(n_k)[None, :] >= lengths[:, None]  # True = padding
        with torch.no_grad():
            want_out, want_w = ref(q, k, v, key_padding_mask=mask, need_weights=True)
            got = call(name, mod, _MHA_HINT, q, k, v, key_padding_mask=mask)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise fail(
                name, f"{where}: expected a pair (output, weights), got "
                f"{type(got).__name__}", _MHA_HINT,
            )
        out = as_tensor(name, got[0], (B, n_q, E), f"{where}, output", _MHA_HINT)
        w = as_tensor(name, got[1], (B, n_q, n_k), f"{where}, weights", _MHA_HINT)
        if not torch.allclose(w, want_w, atol=1e-8, rtol=1e-6):
            extra = ""
            if mask is not None and (w[mask[:, None, :].expand_as(w)] != 0).any():
                extra = " (padded keys must get weight 0: True in key_padding_mask = ignore)"
            raise fail(name, f"{where}: the averaged weights differ from PyTorch's{extra}", _MHA_HINT)
        if not torch.allclose(out, want_out, atol=1e-8, rtol=1e-6):
            raise fail(
                name,
                f"{where}: the output differs from PyTorch's (max diff "
                f"{(out - want_out).abs().max().item():.2e}) although the weights match",
                "check the value projection, the head merge ((B, h, n_q, d) -> "
                "(B, n_q, h * d), transpose before reshape) and out_proj.",
            )
    print(f"PASSED {name}: {len(cases)}/{len(cases)} cases")


_BLOCK_HINT = (
    "pre-norm: x = x + attn(norm1(x)), then x = x + mlp(norm2(x)). attn: qkv(x) "
    "reshaped to (B, N, 3, heads, head_dim) and permuted to (3, B, heads, N, head_dim); "
    "softmax(q k^T / sqrt(head_dim)) v; heads merged back to (B, N, dim); proj. "
    "mlp: fc1 -> GELU -> fc2."
)


def vit_block(candidate) -> None:
    """Check ``candidate(dim, num_heads, mlp_ratio)``, a pre-norm ViT encoder block.

    Submodules with timm's names: ``norm1``, ``attn.qkv`` (Linear dim -> 3 dim, output
    ordered (3, heads, head_dim)), ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``;
    ``forward(x)`` maps (B, N, dim) to (B, N, dim). Compared with the package's
    ``Block`` with random weights (LayerNorm scales included), in float64.

    Book: ch02, section "Exercises".
    """

    name = "vit_block"
    g = torch.Generator().manual_seed(12)
    cases = [("dim=16, 4 heads, mlp_ratio 4", 16, 4, 4.0, 2, 7),
             ("dim=24, 3 heads, mlp_ratio 2", 24, 3, 2.0, 1, 5),
             ("dim=8, 1 head, 61 tokens", 8, 1, 4.0, 3, 61)]
    for i, (desc, dim, h, r, B, N) in enumerate(cases, 1):
        where = f"case {i}/{len(cases)} ({desc})"
        torch.manual_seed(200 + i)
        ref = Block(dim, h, r).double().eval()
        with torch.no_grad():
            for p in ref.parameters():
                p.normal_(0, 0.3, generator=g)
            ref.norm1.weight.add_(1.0)
            ref.norm2.weight.add_(1.0)
        mod = call(name, candidate, _BLOCK_HINT, dim, h, r)
        if not isinstance(mod, nn.Module):
            raise fail(name, f"{where}: expected an nn.Module, got {type(mod).__name__}", _BLOCK_HINT)
        mod = mod.double().eval()
        try:
            mod.load_state_dict(ref.state_dict(), strict=True)
        except RuntimeError as exc:
            expected = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
            raise fail(
                name, f"{where}: parameter names/shapes differ ({exc}); expected {expected}",
                _BLOCK_HINT,
            ) from None
        x = torch.randn(B, N, dim, generator=g, dtype=torch.float64)
        with torch.no_grad():
            want = ref(x)
            got = as_tensor(name, call(name, mod, _BLOCK_HINT, x.clone()), (B, N, dim),
                            f"{where}, output", _BLOCK_HINT)
            post = ref.norm2(
                (y := ref.norm1(x + ref.attn(x))) + ref.mlp(y)
            )  # the post-norm block of the original Transformer
        if not torch.allclose(got, want, atol=1e-8, rtol=1e-6):
            extra = ""
            if torch.allclose(got, post, atol=1e-8, rtol=1e-6):
                extra = " (this is the post-norm block LN(x + f(x)); ViT normalises first)"
            raise fail(
                name,
                f"{where}: output differs from the reference (max diff "
                f"{(got - want).abs().max().item():.2e}){extra}",
                _BLOCK_HINT,
            )
    print(f"PASSED {name}: {len(cases)}/{len(cases)} cases")
