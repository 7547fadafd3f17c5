"""AOT model configurations, named as in aot-benchmark's ``configs/models/aot*.py``.

Book: ch08, section "AOT, the baseline".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AOTConfig:
    """Hyper-parameters of one AOT variant (official ``MODEL_*``/``TEST_*`` names).

    Args:
        encoder: backbone name for ``build_encoder`` (``mobilenetv2``, ...).
        encoder_dims: channels of the [4x, 8x, 16x, 16x] maps (``MODEL_ENCODER_DIM``).
        num_layers: LSTT blocks (``MODEL_LSTT_NUM``).
        embed_dim: token width (``MODEL_ENCODER_EMBEDDING_DIM``, 256).
        self_heads, att_heads: heads of self-attention and of memory attention (8, 8).
        dim_feedforward: hidden width of the feed-forward block (1024).
        long_term_gap: ``TEST_LONG_TERM_MEM_GAP`` (9999 = reference frame only).

    Book: ch08, section "AOT, the baseline".
    """

    encoder: str = "mobilenetv2"
    encoder_dims: tuple[int, int, int, int] = (24, 32, 96, 1280)
    num_layers: int = 1
    embed_dim: int = 256
    self_heads: int = 8
    att_heads: int = 8
    dim_feedforward: int = 1024
    long_term_gap: int = 9999
    align_corners: bool = True
    max_obj_num: int = 10
    max_local_dis: int = 7


_MOBILENET = dict(encoder="mobilenetv2", encoder_dims=(24, 32, 96, 1280))
AOT_CONFIGS: dict[str, AOTConfig] = {
    "aot-t": AOTConfig(**_MOBILENET, num_layers=1),
    "aot-s": AOTConfig(**_MOBILENET, num_layers=2),
    "aot-b": AOTConfig(**_MOBILENET, num_layers=3),
    "aot-l": AOTConfig(**_MOBILENET, num_layers=3, long_term_gap=5),
    "r50-aot-l": AOTConfig(
        encoder="resnet50", encoder_dims=(256, 512, 1024, 1024), num_layers=3,
        long_term_gap=5,
    ),
    # ours: the deaot-mini backbone and widths, for a matched comparison on MVK-mini
    "aot-mini": AOTConfig(
        encoder="mobilenetv2-mini",
        encoder_dims=(16, 24, 48, 128),
        num_layers=2,
        embed_dim=64,
        self_heads=4,
        att_heads=4,
        dim_feedforward=256,
    ),
}


def get_aot_config(name: str) -> AOTConfig:
    """The AOT config called ``name``; ValueError naming the choices otherwise.

    Book: ch08, section "AOT, the baseline".
    """
    key = name.lower().replace("_", "-")
    if key not in AOT_CONFIGS:
        raise ValueError(
            f"unknown AOT model {name!r}; expected one of {sorted(AOT_CONFIGS)}"
        )
    return AOT_CONFIGS[key]
