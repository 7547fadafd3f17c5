"""mvk_tutorial: the companion package of the mvk-tutorial book.

Attention for vision (Part I), video object segmentation with DeAOT (Part II) and
known-item search on the Marine Video Kit (Part III). Every public function names the
chapter that explains it. Book: "How to use this book" (ch00).
"""

__version__ = "0.1.0"

from mvk_tutorial.utils import atomic_write, get_device, seed_everything  # noqa: E402

__all__ = ["__version__", "atomic_write", "get_device", "seed_everything"]
