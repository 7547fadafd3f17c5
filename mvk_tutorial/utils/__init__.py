"""Small helpers used across the book: device, seeds, timing, atomic files.

Names are imported on first use (see :mod:`mvk_tutorial.utils.lazy`): the file helpers
need no torch, the others do.

Book: ch00, section "CPU and GPU modes".
"""

from mvk_tutorial.utils.lazy import lazy_exports

__all__ = [
    "BenchResult",
    "MachineLimits",
    "atomic_path",
    "atomic_write",
    "benchmark",
    "format_table",
    "get_device",
    "get_scale",
    "is_full_scale",
    "scaled",
    "measure_limits",
    "roofline",
    "seed_everything",
]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BenchResult": "mvk_tutorial.utils.bench",
        "benchmark": "mvk_tutorial.utils.bench",
        "format_table": "mvk_tutorial.utils.bench",
        "MachineLimits": "mvk_tutorial.utils.bench",
        "measure_limits": "mvk_tutorial.utils.bench",
        "roofline": "mvk_tutorial.utils.bench",
        "get_device": "mvk_tutorial.utils.device",
        "atomic_path": "mvk_tutorial.utils.files",
        "atomic_write": "mvk_tutorial.utils.files",
        "seed_everything": "mvk_tutorial.utils.seed",
        "get_scale": "mvk_tutorial.utils.scale",
        "is_full_scale": "mvk_tutorial.utils.scale",
        "scaled": "mvk_tutorial.utils.scale",
    },
)
