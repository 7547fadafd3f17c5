"""Small helpers used across the book: device, seeds, timing, atomic files.

Book: ch00 "How to use this book".
"""

from mvk_tutorial.utils.bench import (
    BenchResult,
    MachineLimits,
    benchmark,
    format_table,
    measure_limits,
    roofline,
)
from mvk_tutorial.utils.device import get_device
from mvk_tutorial.utils.files import atomic_write, atomic_path
from mvk_tutorial.utils.seed import seed_everything

__all__ = [
    "BenchResult",
    "MachineLimits",
    "atomic_path",
    "atomic_write",
    "benchmark",
    "format_table",
    "get_device",
    "measure_limits",
    "roofline",
    "seed_everything",
]
