"""One call that seeds python, numpy and torch.

Book: ch00 "How to use this book" (every notebook calls it in its first cell).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int = 0, deterministic: bool = False) -> torch.Generator:
    """Seed ``random``, ``numpy`` and ``torch`` (all devices); return a seeded generator.

    With ``deterministic=True`` PyTorch is also asked for deterministic kernels
    (``warn_only``: an op without one warns instead of failing) and cuDNN autotuning is
    switched off, so that reruns give the same numbers.

    Book: ch00 "How to use this book".
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return torch.Generator().manual_seed(seed)
