"""Moved: whole-video segmentation lives in ``mvk_tutorial.vos.inference``
(``session.py``: the session API and ``segment_video``; ``transforms.py``: the official
preprocessing). This module keeps the old import path working.

Book: ch08, section "The engine: memory over time".
"""

from mvk_tutorial.vos.inference.session import (
    iter_segment_video,
    segment_folder,
    segment_video,
)
from mvk_tutorial.vos.inference.transforms import (
    MEAN,
    STD,
    official_input_size,
    preprocess,
)
from mvk_tutorial.vos.io import VOID_ID

__all__ = [
    "MEAN",
    "STD",
    "VOID_ID",
    "iter_segment_video",
    "official_input_size",
    "preprocess",
    "segment_folder",
    "segment_video",
]
