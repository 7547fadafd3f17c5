"""Three tiny classifiers that differ only in their token mixer: global (ViT), windows
(Swin) and deformable attention (DAT).

Same skeleton for all three, so the comparison measures the mixer: a 4 x 4 patch
embedding (48 x 80 frames -> a 12 x 20 map, D = 64), a learned absolute position
embedding, four pre-norm blocks (4 heads, MLP ratio 2), LayerNorm, mean pooling and a
linear head. The blocks:

* ``vit``: global attention in all four blocks;
* ``swin``: window 4, shifted by 2 in blocks 2 and 4 (W, SW, W, SW);
* ``dat``: local window blocks and deformable blocks alternating (L, D, L, D), the
  pattern of the third stage of DAT-T (local and deformable blocks in turn).
  Deformable blocks: 2 groups, offset kernel 5, stride 2 (a 6 x 10 grid of 60 keys).

Book: ch03, section "Three tiny classifiers on MVK-mini".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from mvk_tutorial.attention.dat import DeformableAttention
from mvk_tutorial.attention.swin import Mlp, SwinTransformerBlock
from mvk_tutorial.attention.vit import Block as GlobalBlock
from mvk_tutorial.attention.vit import _init_weights  # the same timm-style init as the ViT
from mvk_tutorial.utils import atomic_path, atomic_write
from mvk_tutorial.weights import weights_path

KINDS = ("vit", "swin", "dat")


@dataclass(frozen=True)
class VariantConfig:
    """Shape of a tiny variant classifier. Book: ch03, section "Three tiny classifiers on MVK-mini"."""

    kind: str = "dat"
    img_size: tuple[int, int] = (48, 80)
    patch_size: int = 4
    num_classes: int = 9
    dim: int = 64
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 2.0
    window_size: int = 4
    dat_groups: int = 2
    dat_stride: int = 2
    dat_stage_idx: int = 2  # offset kernel 5
    drop_rate: float = 0.0

    @property
    def grid(self) -> tuple[int, int]:
        return (self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size)


class DATBlock(nn.Module):
    """Pre-norm deformable attention + MLP on tokens (B, H*W, C).

    Book: ch03, section "Three tiny classifiers on MVK-mini".
    """

    def __init__(self, cfg: VariantConfig):
        super().__init__()
        H, W = cfg.grid
        self.H, self.W = H, W
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.attn = DeformableAttention(
            (H, W),
            (H, W),
            n_heads=cfg.num_heads,
            n_head_channels=cfg.dim // cfg.num_heads,
            n_groups=cfg.dat_groups,
            stride=cfg.dat_stride,
            stage_idx=cfg.dat_stage_idx,
            proj_drop=cfg.drop_rate,
        )
        self.norm2 = nn.LayerNorm(cfg.dim)
        self.mlp = Mlp(cfg.dim, int(cfg.dim * cfg.mlp_ratio), cfg.drop_rate)

    def forward(self, x: Tensor, return_attn: bool = False):
        B, L, C = x.shape
        y = self.norm1(x).transpose(1, 2).reshape(B, C, self.H, self.W)  # NCHW
        res = self.attn(y, return_attn=return_attn)
        y = res[0].flatten(2).transpose(1, 2)  # (B, H*W, C)
        x = x + y
        x = x + self.mlp(self.norm2(x))
        return (x, res[1:]) if return_attn else x


class VariantClassifier(nn.Module):
    """Patch embedding, four blocks of one kind, mean pooling, linear head.

    Book: ch03, section "Three tiny classifiers on MVK-mini".
    """

    def __init__(self, cfg: VariantConfig = VariantConfig()):
        super().__init__()
        if cfg.kind not in KINDS:
            raise ValueError(f"kind={cfg.kind!r}: expected one of {KINDS}")
        self.cfg = cfg
        H, W = cfg.grid
        self.patch_embed = nn.Conv2d(3, cfg.dim, cfg.patch_size, cfg.patch_size)
        self.pos_embed = nn.Parameter(torch.randn(1, H * W, cfg.dim) * 0.02)
        blocks = []
        for i in range(cfg.depth):
            if cfg.kind == "vit":
                blocks.append(
                    GlobalBlock(cfg.dim, cfg.num_heads, cfg.mlp_ratio, drop=cfg.drop_rate)
                )
            elif cfg.kind == "dat" and i % 2 == 1:
                blocks.append(DATBlock(cfg))
            else:
                shift = cfg.window_size // 2 if (cfg.kind == "swin" and i % 2 == 1) else 0
                blocks.append(
                    SwinTransformerBlock(
                        cfg.dim,
                        cfg.num_heads,
                        cfg.window_size,
                        shift,
                        cfg.mlp_ratio,
                        drop=cfg.drop_rate,
                    )
                )
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)
        self.apply(_init_weights)

    def forward_features(self, x: Tensor, return_attn: bool = False):
        H, W = self.cfg.grid
        x = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embed  # (B, HW, C)
        extras = []
        for blk in self.blocks:
            if isinstance(blk, SwinTransformerBlock):
                x = blk(x, H, W, return_attn=return_attn)
            elif isinstance(blk, DATBlock):
                x = blk(x, return_attn=return_attn)
            else:
                x = blk(x, return_weights=return_attn)
            if return_attn:
                x, e = x
                extras.append(e)
        x = self.norm(x)
        return (x, extras) if return_attn else x

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.forward_features(x).mean(1))

    def deformable_keys(self, x: Tensor, block: int = -1) -> dict:
        """Sampling positions and attention of a deformable block (default: the last).

        Returns ``pos`` (B, G, Hk, Wk, 2) in [-1, 1] (y, x) and ``attn`` (B, heads,
        H*W, Hk*Wk); heads h belong to group h // (heads / G).
        """
        if self.cfg.kind != "dat":
            raise ValueError("deformable_keys: only the dat classifier has deformable blocks")
        _, extras = self.forward_features(x, return_attn=True)
        idx = [i for i, b in enumerate(self.blocks) if isinstance(b, DATBlock)][block]
        pos, ref, attn = extras[idx]
        return {"pos": pos, "reference": ref, "attn": attn}


def save_variant(path: str | Path, model: VariantClassifier, meta: dict) -> None:
    """Plain state_dict (``torch.save``) + a JSON sidecar with config and metadata.

    Book: ch03, section "Three tiny classifiers on MVK-mini".
    """

    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(model.state_dict(), tmp)
    payload = {"config": asdict(model.cfg), **meta}
    atomic_write(path.with_suffix(".json"), json.dumps(payload, indent=2) + "\n")


def load_variant(name_or_path: str | Path) -> tuple[VariantClassifier, dict]:
    """Load a shipped (``"dat_tiny_variants"``) or saved classifier and its sidecar.

    Book: ch03, section "Three tiny classifiers on MVK-mini".
    """

    p = Path(name_or_path)
    path = p if p.suffix == ".pt" and p.is_file() else weights_path(str(name_or_path))
    side = path.with_suffix(".json")
    if not side.is_file():
        raise FileNotFoundError(f"{path.name}: sidecar {side.name} not found")
    meta = json.loads(side.read_text())
    cfg = dict(meta["config"])
    cfg["img_size"] = tuple(cfg["img_size"])
    model = VariantClassifier(VariantConfig(**cfg))
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval(), meta
