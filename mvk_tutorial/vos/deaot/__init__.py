"""DeAOT (Yang & Yang, NeurIPS 2022): model, engine, official checkpoints, segmentation.

"Decoupling Features in Hierarchical Propagation for Video Object Segmentation",
https://arxiv.org/abs/2210.09782; official code https://github.com/yoxu515/aot-benchmark.
Book: ch08 "Memory-based VOS and DeAOT".
"""

from mvk_tutorial.vos.deaot.checkpoint import load_official_checkpoint
from mvk_tutorial.vos.deaot.configs import CONFIGS, DeAOTConfig, get_config
from mvk_tutorial.vos.deaot.engine import DeAOTEngine, soft_aggregation
from mvk_tutorial.vos.deaot.model import DeAOT, build_deaot
from mvk_tutorial.vos.deaot.segment import (
    iter_segment_video,
    official_input_size,
    segment_video,
)

__all__ = [
    "CONFIGS",
    "DeAOT",
    "DeAOTConfig",
    "DeAOTEngine",
    "build_deaot",
    "get_config",
    "iter_segment_video",
    "load_official_checkpoint",
    "official_input_size",
    "segment_video",
    "soft_aggregation",
]
