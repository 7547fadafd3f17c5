"""Pick the compute device: cuda, then mps, then cpu.

Book: ch00 "How to use this book" (section "CPU and GPU modes").
"""

from __future__ import annotations

import os

import torch

ENV_VAR = "MVK_DEVICE"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device the book runs on.

    The order is cuda, then mps, then cpu. ``prefer`` (or the environment variable
    ``MVK_DEVICE``, e.g. ``MVK_DEVICE=cpu``) overrides the choice; asking for a device
    that is not available raises a ``ValueError`` that says what is.

    Book: ch00 "How to use this book".
    """
    choice = prefer if prefer is not None else os.environ.get(ENV_VAR) or None
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(choice)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {choice!r} (from {'the prefer argument' if prefer else ENV_VAR}) was asked for, "
            "but CUDA is not available here; use 'cpu' or unset it"
        )
    if device.type == "mps" and not _mps_available():
        raise ValueError(
            f"device {choice!r} (from {'the prefer argument' if prefer else ENV_VAR}) was asked for, "
            "but MPS is not available here; use 'cpu' or unset it"
        )
    if device.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(f"device {choice!r}: expected one of cpu, cuda, cuda:N, mps")
    return device
