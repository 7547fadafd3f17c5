"""Part I: attention for vision (chapters 1-6).

Chapter 1-2 pieces: :func:`scaled_dot_product_attention` (sdpa.py), masks (masks.py),
:class:`MultiHeadAttention` and timm-style :class:`Attention` (multihead.py), the ViT
(vit.py, patch_embed.py, mlp.py) and attention rollout (rollout.py).

Names are imported on first use (:mod:`mvk_tutorial.utils.lazy`), so that the
``mvk`` command starts without torch.
"""

from mvk_tutorial.utils.lazy import lazy_exports

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
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "set_fused_attn": "mvk_tutorial.attention.config",
        "use_fused_attn": "mvk_tutorial.attention.config",
        "causal_mask": "mvk_tutorial.attention.masks",
        "padding_mask": "mvk_tutorial.attention.masks",
        "Attention": "mvk_tutorial.attention.multihead",
        "MultiHeadAttention": "mvk_tutorial.attention.multihead",
        "merge_heads": "mvk_tutorial.attention.multihead",
        "split_heads": "mvk_tutorial.attention.multihead",
        "attention_rollout": "mvk_tutorial.attention.rollout",
        "attention_flops": "mvk_tutorial.attention.sdpa",
        "scaled_dot_product_attention": "mvk_tutorial.attention.sdpa",
        "VisionTransformer": "mvk_tutorial.attention.vit",
        "ViTConfig": "mvk_tutorial.attention.vit",
        "create_vit": "mvk_tutorial.attention.vit",
        "load_vit": "mvk_tutorial.attention.vit",
    },
)
