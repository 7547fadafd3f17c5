"""DeAOT (Yang & Yang, NeurIPS 2022): the network and its official checkpoints.

"Decoupling Features in Hierarchical Propagation for Video Object Segmentation",
https://arxiv.org/abs/2210.09782; official code https://github.com/yoxu515/aot-benchmark.
This package holds the network only (model, GPM, attention, encoders, decoder, identity,
configs, checkpoint). Inference (memory, objects, preprocessing, engine, session) lives in
``mvk_tutorial.vos.inference``; its main names are re-exported here, lazily, for the
old imports (``from mvk_tutorial.vos.deaot import DeAOTEngine, segment_video``).
Book: ch08, section "The engine: memory over time".
"""

from mvk_tutorial.vos.deaot.checkpoint import load_official_checkpoint
from mvk_tutorial.vos.deaot.configs import CONFIGS, DeAOTConfig, get_config
from mvk_tutorial.vos.deaot.model import DeAOT, build_deaot

_INFERENCE = {
    "DeAOTEngine": "engine",
    "soft_aggregation": "engine",
    "iter_segment_video": "session",
    "segment_video": "session",
    "segment_folder": "session",
    "official_input_size": "transforms",
}


def __getattr__(name: str):
    """Inference names, imported on first use (no import cycle with vos.inference)."""
    if name in _INFERENCE:
        import importlib

        module = importlib.import_module(
            f"mvk_tutorial.vos.inference.{_INFERENCE[name]}"
        )
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
