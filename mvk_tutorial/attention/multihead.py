"""Multi-head attention: project, split into heads, attend, merge, project back.

Vaswani et al., "Attention Is All You Need", NeurIPS 2017, arXiv:1706.03762, Sec. 3.2.2:

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,
    head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

Two modules share the same head bookkeeping (:func:`split_heads`, :func:`merge_heads`):

* :class:`Attention`: timm-style self-attention for ViT blocks (``qkv``, ``proj``);
* :class:`MultiHeadAttention`: queries, keys and values from different inputs, with
  the parameter names of ``torch.nn.MultiheadAttention`` (``in_proj_weight``,
  ``in_proj_bias``, ``out_proj``) so that its state dict loads unchanged.

Each has a ``fused_attn`` switch (default from :func:`mvk_tutorial.attention.config.
use_fused_attn`): the fused path calls ``F.scaled_dot_product_attention`` (flash /
memory-efficient kernels on a GPU); the manual path is the book's
:func:`~mvk_tutorial.attention.sdpa.scaled_dot_product_attention` and is always used
when the weights are asked for.

Book: ch01, section "Multi-head attention: projections into subspaces".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mvk_tutorial.attention.config import use_fused_attn
from mvk_tutorial.attention.sdpa import scaled_dot_product_attention


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, N, C) -> (B, num_heads, N, C // num_heads).

    Book: ch01, section "Multi-head attention: projections into subspaces".
    """
    B, N, C = x.shape
    if C % num_heads:
        raise ValueError(f"x: last dim {C} is not divisible by num_heads={num_heads}")
    x = x.reshape(B, N, num_heads, C // num_heads)  # (B, N, heads, head_dim)
    return x.transpose(1, 2)  # (B, heads, N, head_dim)


def merge_heads(x: Tensor) -> Tensor:
    """(B, num_heads, N, head_dim) -> (B, N, num_heads * head_dim); undoes split_heads.

    Book: ch01, section "Multi-head attention: projections into subspaces".
    """
    B, h, N, d = x.shape
    return x.transpose(1, 2).reshape(B, N, h * d)  # (B, N, heads * head_dim)


def combine_masks(
    attn_mask: Tensor | None, key_padding_mask: Tensor | None, dtype: torch.dtype
) -> Tensor | None:
    """One mask for scores (B, heads, n_q, n_k) from an attention and a padding mask.

    ``key_padding_mask`` is (B, n_k), True = a real key (PyTorch's
    ``nn.MultiheadAttention`` uses the opposite: True = padding). Boolean masks are
    combined with AND; if either is a float mask the result is additive.

    Book: ch01, section "Masks".
    """
    if key_padding_mask is not None:
        if key_padding_mask.dim() != 2:
            raise ValueError("key_padding_mask: expected shape (B, n_k)")
        key_padding_mask = key_padding_mask[:, None, None, :]  # (B, 1, 1, n_k)
    masks = [m for m in (attn_mask, key_padding_mask) if m is not None]
    if len(masks) < 2:
        return masks[0] if masks else None
    if all(m.dtype == torch.bool for m in masks):
        return masks[0] & masks[1]
    additive = [
        torch.zeros(m.shape, dtype=dtype, device=m.device).masked_fill(
            ~m, float("-inf")
        )
        if m.dtype == torch.bool
        else m.to(dtype)
        for m in masks
    ]
    return additive[0] + additive[1]


class Attention(nn.Module):
    """Multi-head self-attention of a ViT block (timm's ``Attention``).

    Args:
        dim: token width C.
        num_heads: number of heads h; head_dim = C / h.
        qkv_bias: bias in the joint q, k, v projection.
        attn_drop: dropout on the attention weights.
        proj_drop: dropout after the output projection.

    Book: ch01, section "Multi-head attention: projections into subspaces" (also ch02).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = use_fused_attn()
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(
        self, x: Tensor, attn_mask: Tensor | None = None, return_weights: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, heads, N, head_dim)
        weights = None
        if self.fused_attn and not return_weights:
            p = self.attn_drop.p if self.training else 0.0
            x = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attn_mask, dropout_p=p
            )
        else:  # the manual path the book teaches
            p = self.attn_drop.p if self.training else 0.0
            x, weights = scaled_dot_product_attention(
                q, k, v, attn_mask, dropout_p=p, return_weights=True, scale=self.scale
            )  # (B, heads, N, head_dim), (B, heads, N, N)
        x = self.proj_drop(self.proj(merge_heads(x)))  # (B, N, C)
        return (x, weights) if return_weights else x


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate query and key/value inputs (batch first).

    Parameter names are those of ``torch.nn.MultiheadAttention`` (``in_proj_weight``
    (3C, C) = [W^Q; W^K; W^V], ``in_proj_bias``, ``out_proj`` = W^O), so
    ``mha.load_state_dict(torch_mha.state_dict())`` copies a PyTorch module.

    Args:
        dim: model width C (= embed_dim).
        num_heads: number of heads h.
        bias: biases in the input and output projections.
        attn_drop: dropout on the attention weights.
        proj_drop: dropout after the output projection.

    Book: ch01, section "Multi-head attention: projections into subspaces".
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.fused_attn = use_fused_attn()
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim)) if bias else None
        self.out_proj = nn.Linear(dim, dim, bias=bias)
        self.attn_drop, self.proj_drop = attn_drop, nn.Dropout(proj_drop)
        nn.init.xavier_uniform_(self.in_proj_weight)
        if bias:
            nn.init.zeros_(self.out_proj.bias)

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> list[Tensor]:
        """Project and split into heads: 3 x (B, heads, n, head_dim)."""
        h, d = self.num_heads, self.head_dim
        if query is key and key is value:  # self-attention: one GEMM for q, k and v
            B, N, C = query.shape
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)  # (B, N, 3C)
            qkv = qkv.reshape(B, N, 3, h, d)  # (B, N, 3, heads, head_dim)
            return qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, heads, N, head_dim)
        w = self.in_proj_weight.chunk(3)
        b = self.in_proj_bias.chunk(3) if self.in_proj_bias is not None else (None,) * 3
        return [
            split_heads(F.linear(t, w_i, b_i), h)  # (B, heads, n, head_dim)
            for t, w_i, b_i in zip((query, key, value), w, b)
        ]

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        attn_mask: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = False,
        average_attn_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """query (B, n_q, C), key/value (B, n_k, C) -> (out (B, n_q, C), weights).

        Masks use True = attend (see :func:`combine_masks`). ``weights`` is None
        unless ``need_weights``; then (B, n_q, n_k) averaged over heads, or
        (B, heads, n_q, n_k).
        """
        key = query if key is None else key
        value = key if value is None else value
        q, k, v = self._project(query, key, value)  # (B, heads, n, head_dim) each
        mask = combine_masks(attn_mask, key_padding_mask, q.dtype)
        p = self.attn_drop if self.training else 0.0
        weights = None
        if self.fused_attn and not need_weights:
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            x, weights = scaled_dot_product_attention(
                q, k, v, mask, dropout_p=p, return_weights=True
            )  # (B, h, n_q, d), (B, h, n_q, n_k)
            if average_attn_weights:
                weights = weights.mean(dim=1)  # (B, n_q, n_k)
        x = self.proj_drop(self.out_proj(merge_heads(x)))  # (B, n_q, C)
        return x, weights
