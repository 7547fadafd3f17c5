"""DeAOT model configurations, named as in aot-benchmark's ``configs/models/*.py``.

Book: ch08 "Memory-based VOS and DeAOT" (section "The DeAOT family").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeAOTConfig:
    """Hyper-parameters of one DeAOT variant (official ``MODEL_*``/``TEST_*`` names).

    Book: ch08 "Memory-based VOS and DeAOT".

    Args:
        encoder: ``mobilenetv2``, ``resnet50`` or ``swin_base``.
        encoder_dims: channels of the [4x, 8x, 16x, 16x] backbone maps (``MODEL_ENCODER_DIM``).
        num_layers: number of Gated Propagation Modules (``MODEL_LSTT_NUM``).
        long_term_gap: a frame joins long-term memory every ``gap`` frames
            (``TEST_LONG_TERM_MEM_GAP``; 9999 = reference frame only).
        align_corners: ``MODEL_ALIGN_CORNERS``; True needs 16k+1 input sides.
    """

    encoder: str = "mobilenetv2"
    encoder_dims: tuple[int, int, int, int] = (24, 32, 96, 1280)
    num_layers: int = 1
    long_term_gap: int = 9999
    align_corners: bool = True
    embed_dim: int = 256  # MODEL_ENCODER_EMBEDDING_DIM
    max_obj_num: int = 10  # MODEL_MAX_OBJ_NUM
    max_local_dis: int = 7  # 15x15 short-term window
    expand_ratio: float = 2.0
    single_branch: bool = False  # ours: the "one branch" ablation (single_branch.py)

    @property
    def input_stride(self) -> int:
        return 16


_MOBILENET = dict(encoder="mobilenetv2", encoder_dims=(24, 32, 96, 1280))
_RESNET50 = dict(encoder="resnet50", encoder_dims=(256, 512, 1024, 1024))
_SWINB = dict(
    encoder="swin_base", encoder_dims=(128, 256, 512, 512), align_corners=False
)

CONFIGS: dict[str, DeAOTConfig] = {
    "deaot-t": DeAOTConfig(**_MOBILENET, num_layers=1),
    "deaot-s": DeAOTConfig(**_MOBILENET, num_layers=2),
    "deaot-b": DeAOTConfig(**_MOBILENET, num_layers=3),
    "deaot-l": DeAOTConfig(**_MOBILENET, num_layers=3, long_term_gap=5),
    "r50-deaot-l": DeAOTConfig(**_RESNET50, num_layers=3, long_term_gap=5),
    "swinb-deaot-l": DeAOTConfig(**_SWINB, num_layers=3, long_term_gap=5),
}

# Ours, not official: same structure, reduced widths, trained from scratch on MVK-mini on
# a CPU (``mvk train deaot``; shipped weights in ``mvk_tutorial/weights``). Kept apart
# from ``CONFIGS``, which lists the official variants whose checkpoints load strictly.
CPU_CONFIGS: dict[str, DeAOTConfig] = {
    "deaot-mini": DeAOTConfig(
        encoder="mobilenetv2-mini",
        encoder_dims=(16, 24, 48, 128),
        num_layers=2,
        embed_dim=64,
    ),
    # the ablation "one branch is good enough?": deaot-mini with one token stream
    "deaot-mini-single": DeAOTConfig(
        encoder="mobilenetv2-mini",
        encoder_dims=(16, 24, 48, 128),
        num_layers=2,
        embed_dim=64,
        single_branch=True,
    ),
}


def get_config(name: str) -> DeAOTConfig:
    """Return the config called ``name`` (e.g. ``"deaot-t"``); raise ValueError otherwise.

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    key = name.lower().replace("_", "-")
    known = {**CONFIGS, **CPU_CONFIGS}
    if key not in known:
        raise ValueError(
            f"unknown DeAOT model {name!r}; expected one of {sorted(known)}"
        )
    return known[key]
