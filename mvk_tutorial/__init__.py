"""mvk_tutorial: the companion package of the mvk-tutorial book.

Attention for vision (Part I), video object segmentation with DeAOT (Part II) and
known-item search on the Marine Video Kit (Part III). Every public function names the
chapter that explains it. Book: "How to use this book" (ch00).

The names below are imported on first use, so that ``import mvk_tutorial`` (and the
``mvk`` command's start-up) does not load torch.
"""

__version__ = "0.1.0"

from mvk_tutorial.utils.lazy import lazy_exports  # noqa: E402

__all__ = ["__version__", "atomic_write", "get_device", "seed_everything"]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "atomic_write": "mvk_tutorial.utils.files",
        "get_device": "mvk_tutorial.utils.device",
        "seed_everything": "mvk_tutorial.utils.seed",
    },
)
