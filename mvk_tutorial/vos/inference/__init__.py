"""VOS inference with DeAOT, split as Cutie and SAM 2 split theirs.

- ``transforms``: official input size, bicubic resize, normalisation, label resizing,
  logit upsampling;
- ``objects``: the user's object ids (any, not contiguous) <-> (group, channel) slots;
- ``memory``: one memory bank per object group (reference, long-term with an optional
  cap, short-term);
- ``engine``: one frame step over the groups (the model's ``encode_image``,
  ``match_memory``, ``decode``, ``encode_memory``) with soft aggregation;
- ``session``: ``init_state`` / ``add_mask`` (any frame) / ``propagate`` (a generator),
  flip test-time augmentation over two states, and ``segment_video``.

Book: ch08, section "The engine: memory over time".
"""

from mvk_tutorial.vos.inference.engine import DeAOTEngine, soft_aggregation
from mvk_tutorial.vos.inference.memory import MemoryBank
from mvk_tutorial.vos.inference.objects import ObjectManager
from mvk_tutorial.vos.inference.session import (
    FlipState,
    InferenceState,
    VOSSession,
    iter_segment_video,
    segment_folder,
    segment_video,
)
from mvk_tutorial.vos.inference.transforms import official_input_size, preprocess

__all__ = [
    "DeAOTEngine",
    "FlipState",
    "InferenceState",
    "MemoryBank",
    "ObjectManager",
    "VOSSession",
    "iter_segment_video",
    "official_input_size",
    "preprocess",
    "segment_folder",
    "segment_video",
    "soft_aggregation",
]
