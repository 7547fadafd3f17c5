"""Checks for the exercises of ch01 "Scaled dot-product attention" and ch02.

Book: ch01, section "Exercises".
"""

from __future__ import annotations

import torch

from mvk_tutorial.attention import masks as _masks
from mvk_tutorial.attention import multihead as _mh
from mvk_tutorial.attention.sdpa import scaled_dot_product_attention
from mvk_tutorial.checks.core import case, check_function, seeded


def _sdpa_cases():
    g = seeded(0)
    f64 = torch.float64

    def qkv(*lead, n_q=3, n_k=4, d_k=5, d_v=5, dtype=f64, scale=1.0):
        return (
            scale * torch.randn(*lead, n_q, d_k, generator=g, dtype=dtype),
            scale * torch.randn(*lead, n_k, d_k, generator=g, dtype=dtype),
            torch.randn(*lead, n_k, d_v, generator=g, dtype=dtype),
        )

    bool_mask = torch.rand(2, 3, 4, generator=g) > 0.3
    bool_mask[..., 0] = True
    return [
        case("one head: Q 3x5, K 4x5, V 4x5", *qkv()),
        case("d_v != d_k: V is 4x7", *qkv(d_v=7)),
        case("batched over (2, 3) leading dims", *qkv(2, 3)),
        case("float32 input", *qkv(2, dtype=torch.float32)),
        case("boolean mask (True = attend)", *qkv(2), attn_mask=bool_mask),
        case(
            "additive float mask",
            *qkv(2),
            attn_mask=torch.randn(3, 4, generator=g, dtype=f64),
        ),
        case("large scores (x 30): the softmax must be stable", *qkv(2, scale=30.0)),
    ]


def sdpa(candidate) -> None:
    """Check ``candidate(q, k, v, attn_mask=None)`` = softmax(QK^T/sqrt(d_k) + mask) V.

    Book: ch01, section "Exercise 1: scaled dot-product attention".
    """
    check_function(
        "sdpa",
        candidate,
        lambda q, k, v, attn_mask=None: scaled_dot_product_attention(
            q, k, v, attn_mask
        ),
        _sdpa_cases(),
        hint="scores = q @ k.transpose(-2, -1) / sqrt(d_k); a boolean mask sets "
        "scores to -inf where it is False, a float mask is added; then a softmax over "
        "the last dim (keys) and @ v.",
        atol=1e-6,
        rtol=1e-6,
    )


def _heads_cases(merged: bool):
    g = seeded(1)
    shapes = [(1, 4, 8, 2), (2, 5, 12, 3), (3, 1, 6, 6), (2, 7, 6, 1)]  # B, N, C, heads
    cases = []
    for B, N, C, h in shapes:
        x = torch.randn(B, N, C, generator=g)
        if merged:
            cases.append(
                case(
                    f"(B={B}, heads={h}, N={N}, head_dim={C // h})",
                    _mh.split_heads(x, h),
                )
            )
        else:
            cases.append(case(f"(B={B}, N={N}, C={C}) into {h} heads", x, h))
    return cases


def split_heads(candidate) -> None:
    """Check ``candidate(x, num_heads)``: (B, N, C) -> (B, heads, N, C // heads).

    Book: ch01, section "Exercise 2: split and merge heads".
    """
    check_function(
        "split_heads",
        candidate,
        _mh.split_heads,
        _heads_cases(merged=False),
        hint="reshape to (B, N, heads, head_dim) first (channels of one head are "
        "contiguous), then transpose(1, 2).",
    )


def merge_heads(candidate) -> None:
    """Check ``candidate(x)``: (B, heads, N, head_dim) -> (B, N, heads * head_dim).

    Book: ch01, section "Exercise 2: split and merge heads".
    """
    check_function(
        "merge_heads",
        candidate,
        _mh.merge_heads,
        _heads_cases(merged=True),
        hint="transpose(1, 2) back to (B, N, heads, head_dim), then reshape to "
        "(B, N, heads * head_dim); a plain view without the transpose mixes tokens.",
    )


def causal_mask(candidate) -> None:
    """Check ``candidate(n_q, n_k)``: boolean (n_q, n_k), True where key j <= query i.

    Book: ch01, section "Exercise 3: a causal mask and a padding mask".
    """
    cases = [
        case(f"n_q={a}, n_k={b}", a, b) for a, b in [(1, 1), (4, 4), (6, 6), (2, 5)]
    ]
    check_function(
        "causal_mask",
        candidate,
        _masks.causal_mask,
        cases,
        hint="True = attend. Query i sees keys 0..i (+ n_k - n_q when there are more "
        "keys than queries): compare torch.arange(n_k)[None, :] with "
        "torch.arange(n_q)[:, None] + (n_k - n_q).",
    )


def padding_mask(candidate) -> None:
    """Check ``candidate(lengths, n_k)``: boolean (B, 1, 1, n_k), True for real keys.

    Book: ch01, section "Exercise 3: a causal mask and a padding mask".
    """
    cases = [
        case(f"lengths={ls}, n_k={n}", torch.tensor(ls), n)
        for ls, n in [([3], 3), ([1, 4, 2], 4), ([0, 5], 6)]
    ]
    check_function(
        "padding_mask",
        candidate,
        _masks.padding_mask,
        cases,
        hint="key j of sequence b is real iff j < lengths[b]; add two singleton dims "
        "((B, n_k) -> (B, 1, 1, n_k)) so it broadcasts over heads and queries.",
    )


def _patchify_reference(x, patch_size):
    from einops import rearrange

    return rearrange(
        x, "b c (h p1) (w p2) -> b (h w) (c p1 p2)", p1=patch_size, p2=patch_size
    )


def patchify(candidate) -> None:
    """Check ``candidate(x, patch_size)``: (B, C, H, W) -> (B, N, C * P * P).

    Patches are taken row by row (N = (H / P) (W / P)), and each patch is flattened
    channel first, the order of ``PatchEmbed.proj.weight.reshape(dim, -1)``.

    Book: ch02 "Patches to tokens" (exercise 1).
    """
    g = seeded(2)
    cases = [
        case(f"B={b}, C={c}, {h}x{w}, P={p}", torch.randn(b, c, h, w, generator=g), p)
        for b, c, h, w, p in [(1, 1, 4, 4, 2), (2, 3, 8, 12, 4), (1, 3, 48, 80, 8)]
    ]
    check_function(
        "patchify",
        candidate,
        _patchify_reference,
        cases,
        hint="reshape to (B, C, H/P, P, W/P, P), permute to (B, H/P, W/P, C, P, P), then "
        "reshape to (B, (H/P)(W/P), C*P*P).",
    )
