"""DeAOT (Yang & Yang, NeurIPS 2022): the network and its official checkpoints.

"Decoupling Features in Hierarchical Propagation for Video Object Segmentation",
https://arxiv.org/abs/2210.09782; official code https://github.com/yoxu515/aot-benchmark.

This package holds the network only (model, GPM, attention, encoders, decoder, identity,
configs, checkpoint). Inference (memory, objects, preprocessing, engine, session) lives in
``mvk_tutorial.vos.inference``; its main names are re-exported here for the old imports
(``from mvk_tutorial.vos.deaot import DeAOTEngine, segment_video``). All names are
imported on first use (:mod:`mvk_tutorial.utils.lazy`), so that the ``mvk`` command
starts without torch and there is no import cycle with ``vos.inference``.

Book: ch08, section "The engine: memory over time".
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
    "segment_folder",
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
        "DeAOT": "mvk_tutorial.vos.deaot.model",
        "build_deaot": "mvk_tutorial.vos.deaot.model",
        "DeAOTEngine": "mvk_tutorial.vos.inference.engine",
        "soft_aggregation": "mvk_tutorial.vos.inference.engine",
        "iter_segment_video": "mvk_tutorial.vos.inference.session",
        "segment_video": "mvk_tutorial.vos.inference.session",
        "segment_folder": "mvk_tutorial.vos.inference.session",
        "official_input_size": "mvk_tutorial.vos.inference.transforms",
    },
)
