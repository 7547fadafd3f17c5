"""DeAOT (Yang & Yang, NeurIPS 2022): model, engine, official checkpoints, segmentation.

"Decoupling Features in Hierarchical Propagation for Video Object Segmentation",
https://arxiv.org/abs/2210.09782; official code https://github.com/yoxu515/aot-benchmark.
Book: ch08 "Memory-based VOS and DeAOT".

Names are imported on first use (:mod:`mvk_tutorial.utils.lazy`), so that the
``mvk`` command starts without torch.
"""

from mvk_tutorial.utils.lazy import lazy_exports

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
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "load_official_checkpoint": "mvk_tutorial.vos.deaot.checkpoint",
        "CONFIGS": "mvk_tutorial.vos.deaot.configs",
        "DeAOTConfig": "mvk_tutorial.vos.deaot.configs",
        "get_config": "mvk_tutorial.vos.deaot.configs",
        "DeAOTEngine": "mvk_tutorial.vos.deaot.engine",
        "soft_aggregation": "mvk_tutorial.vos.deaot.engine",
        "DeAOT": "mvk_tutorial.vos.deaot.model",
        "build_deaot": "mvk_tutorial.vos.deaot.model",
        "iter_segment_video": "mvk_tutorial.vos.deaot.segment",
        "official_input_size": "mvk_tutorial.vos.deaot.segment",
        "segment_video": "mvk_tutorial.vos.deaot.segment",
    },
)
