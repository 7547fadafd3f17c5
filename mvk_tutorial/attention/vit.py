"""The Vision Transformer: patch tokens, a class token, and global self-attention.

Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition
at Scale", ICLR 2021, arXiv:2010.11929; official code google-research/vision_transformer;
module and parameter names follow timm's ``vision_transformer.py`` (``patch_embed``,
``cls_token``, ``pos_embed``, ``blocks.i.{norm1,attn,norm2,mlp}``, ``norm``, ``head``).

Book: ch02 "The Vision Transformer".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from mvk_tutorial.attention.mlp import Mlp
from mvk_tutorial.attention.multihead import Attention
from mvk_tutorial.attention.patch_embed import PatchEmbed
from mvk_tutorial.utils.files import atomic_path
from mvk_tutorial.weights import WEIGHTS_DIR  # defined once, there


@dataclass(frozen=True)
class ViTConfig:
    """Architecture of a ViT (timm names). Book: ch02 "The Vision Transformer"."""

    img_size: int | tuple[int, int] = (
        224  # input size in pixels: int (square) or (H, W)
    )
    patch_size: int = 16  # patch side P; N = (img_size / P)^2 tokens
    in_chans: int = 3
    num_classes: int = 1000  # 0: no head (forward returns the pooled features)
    dim: int = 192  # token width D
    depth: int = 12  # number of blocks L
    num_heads: int = 3
    mlp_ratio: float = 4.0  # MLP hidden width = mlp_ratio * dim
    qkv_bias: bool = True
    drop_rate: float = 0.0  # dropout after projections and the MLP
    attn_drop_rate: float = 0.0


# Named presets, timm style. vit_tiny_mvk is the model shipped for MVK-mini.
VIT_PRESETS = {
    "vit_tiny_patch16_224": ViTConfig(),
    "vit_small_patch16_224": ViTConfig(dim=384, num_heads=6),
    # MVK-mini frames (256x448) resized to 48x80: a 6x10 grid of 8x8 patches. Small
    # enough to train in minutes on a 2-core CPU.
    "vit_tiny_mvk": ViTConfig(
        img_size=(48, 80),
        patch_size=8,
        num_classes=9,
        dim=64,
        depth=4,
        num_heads=4,
        mlp_ratio=2.0,
        drop_rate=0.1,
    ),
}


class Block(nn.Module):
    """Pre-norm encoder block: x + MSA(LN(x)), then x + MLP(LN(x)) (ViT Eq. 2-3).

    Book: ch02 "The encoder block".
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        norm_layer: type[nn.Module] = nn.LayerNorm,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(
            dim, num_heads, qkv_bias, attn_drop=attn_drop, proj_drop=drop
        )
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: Tensor, return_weights: bool = False):
        if return_weights:
            y, weights = self.attn(self.norm1(x), return_weights=True)
            x = x + y
            return x + self.mlp(self.norm2(x)), weights
        x = x + self.attn(self.norm1(x))  # z'_l = MSA(LN(z_{l-1})) + z_{l-1}
        return x + self.mlp(self.norm2(x))  # z_l = MLP(LN(z'_l)) + z'_l


class VisionTransformer(nn.Module):
    """ViT with a class token and learned position embeddings.

    Build it from a :class:`ViTConfig` (``VisionTransformer.from_config(cfg)``) or a
    preset name (:func:`create_vit`). ``forward_features`` gives the normed tokens
    (B, 1 + N, D); ``forward_head`` takes the class token and classifies it.

    Book: ch02 "The Vision Transformer".
    """

    def __init__(self, cfg: ViTConfig = ViTConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(
            cfg.img_size, cfg.patch_size, cfg.in_chans, cfg.dim
        )
        n = self.patch_embed.num_patches
        # "we prepend a learnable embedding to the sequence of embedded patches"
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        # "Position embeddings are added to the patch embeddings"
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, cfg.dim) * 0.02)
        self.pos_drop = nn.Dropout(cfg.drop_rate)
        self.blocks = nn.ModuleList(
            Block(
                cfg.dim,
                cfg.num_heads,
                cfg.mlp_ratio,
                cfg.qkv_bias,
                cfg.drop_rate,
                cfg.attn_drop_rate,
            )
            for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = (
            nn.Linear(cfg.dim, cfg.num_classes) if cfg.num_classes else nn.Identity()
        )
        self.apply(_init_weights)

    @classmethod
    def from_config(cls, cfg: ViTConfig) -> VisionTransformer:
        return cls(cfg)

    def embed(self, x: Tensor) -> Tensor:
        """Image (B, C, H, W) -> tokens with class token and positions (B, 1 + N, D)."""
        x = self.patch_embed(x)  # (B, N, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        x = torch.cat([cls, x], dim=1)  # (B, 1 + N, D)
        return self.pos_drop(x + self.pos_embed)

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.embed(x)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)  # (B, 1 + N, D)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        x = x[:, 0]  # the class token, (B, D)
        return x if pre_logits else self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    @torch.no_grad()
    def get_attention_maps(self, x: Tensor) -> list[Tensor]:
        """Attention weights of every block, first to last: L x (B, heads, 1+N, 1+N).

        Book: ch02 "Attention maps and rollout".
        """
        x, maps = self.embed(x), []
        for blk in self.blocks:
            x, w = blk(x, return_weights=True)
            maps.append(w)
        return maps


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def create_vit(name: str, pretrained: bool = False, **overrides) -> VisionTransformer:
    """Build a preset (``VIT_PRESETS``); ``pretrained`` loads the shipped weights.

    Only ``vit_tiny_mvk`` has shipped weights (trained by ``mvk train vit``).

    Book: ch02 "The Vision Transformer".
    """
    if pretrained:
        if overrides:
            raise ValueError(
                "create_vit: overrides cannot be combined with pretrained=True"
            )
        return load_vit(WEIGHTS_DIR / f"{name}.pt")[0]
    if name not in VIT_PRESETS:
        raise ValueError(f"ViT preset {name!r}: expected one of {sorted(VIT_PRESETS)}")
    cfg = VIT_PRESETS[name]
    return VisionTransformer(ViTConfig(**{**asdict(cfg), **overrides}))


def save_vit(path: str | Path, model: VisionTransformer, **extra) -> None:
    """Save config + weights (+ extra metadata such as class names) atomically."""
    payload = {"config": asdict(model.cfg), "state_dict": model.state_dict(), **extra}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_vit(
    path: str | Path, map_location: str = "cpu"
) -> tuple[VisionTransformer, dict]:
    """Load a checkpoint written by :func:`save_vit`; return (model in eval mode, meta).

    Book: ch02 "The Vision Transformer".
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"ViT weights {path}: no such file (train with `mvk train vit`)"
        )
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(
            f"ViT weights {path}: expected a dict with 'config' and 'state_dict'"
        )
    cfg = dict(ckpt["config"])
    if isinstance(cfg.get("img_size"), list):
        cfg["img_size"] = tuple(cfg["img_size"])
    model = VisionTransformer(ViTConfig(**cfg))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise ValueError(
            f"ViT weights {path}: state dict does not fit its config: {exc}"
        )
    meta = {k: v for k, v in ckpt.items() if k not in ("config", "state_dict")}
    return model.eval(), meta
