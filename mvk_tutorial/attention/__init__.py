"""Part I: attention for vision (chapters 1-6).

Chapter 1-2 pieces: :func:`scaled_dot_product_attention` (sdpa.py), masks (masks.py),
:class:`MultiHeadAttention` and timm-style :class:`Attention` (multihead.py), the ViT
(vit.py, patch_embed.py, mlp.py) and attention rollout (rollout.py).
"""

from mvk_tutorial.attention.config import set_fused_attn, use_fused_attn
from mvk_tutorial.attention.masks import causal_mask, padding_mask
from mvk_tutorial.attention.multihead import (
    Attention,
    MultiHeadAttention,
    merge_heads,
    split_heads,
)
from mvk_tutorial.attention.rollout import attention_rollout
from mvk_tutorial.attention.sdpa import attention_flops, scaled_dot_product_attention
from mvk_tutorial.attention.vit import (
    VisionTransformer,
    ViTConfig,
    create_vit,
    load_vit,
)

__all__ = [
    "Attention",
    "MultiHeadAttention",
    "ViTConfig",
    "VisionTransformer",
    "attention_flops",
    "attention_rollout",
    "causal_mask",
    "create_vit",
    "load_vit",
    "merge_heads",
    "padding_mask",
    "scaled_dot_product_attention",
    "set_fused_attn",
    "split_heads",
    "use_fused_attn",
]
