"""One switch between the CPU settings of the book and the full ones: ``MVK_SCALE``.

``MVK_SCALE=cpu`` (the default) runs every chapter on MVK-mini with the tiny shipped
weights, in minutes on a laptop. ``MVK_SCALE=full`` asks for the settings of the
papers: the real data folders, pretrained or official weights, larger models. A
chapter writes its settings once, for both scales::

    cfg = scaled(cpu=dict(images=64, model="vit_tiny_mvk"),
                 full=dict(images=50_000, model="vit_base_patch16_224"))

and every later cell reads ``cfg``. Data and weights are never downloaded: at full
scale the chapter reads them from the paths given by ``MVK_DATA`` (the data folders)
and ``MVK_WEIGHTS`` (weight files), and says which file it is missing if one is.

Book: ch00, section "CPU and GPU modes".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

SCALES = ("cpu", "full")
T = TypeVar("T")


def get_scale() -> str:
    """The scale asked for by ``MVK_SCALE``: "cpu" (default) or "full".

    Any other value raises ``ValueError`` naming the variable and what it accepts.

    Book: ch00, section "CPU and GPU modes".
    """
    value = os.environ.get("MVK_SCALE", "cpu").strip().lower() or "cpu"
    if value not in SCALES:
        raise ValueError(
            f"MVK_SCALE={os.environ.get('MVK_SCALE')!r}: expected one of {', '.join(SCALES)}"
        )
    return value


def is_full_scale() -> bool:
    """True when ``MVK_SCALE=full``.

    Book: ch00, section "CPU and GPU modes".
    """
    return get_scale() == "full"


def scaled(cpu: T, full: T) -> T:
    """``cpu`` or ``full``, whichever ``MVK_SCALE`` selects.

    When both are dicts they must have the same keys, so that the rest of a chapter
    reads the same settings at both scales (``ValueError`` names the odd keys).

    Book: ch00, section "CPU and GPU modes".
    """
    if isinstance(cpu, dict) and isinstance(full, dict) and set(cpu) != set(full):
        odd = sorted(set(cpu) ^ set(full))
        raise ValueError(f"scaled(cpu=..., full=...): the two settings differ in keys {odd}")
    return full if is_full_scale() else cpu


def full_scale_path(variable: str, what: str) -> Path:
    """The folder or file named by environment ``variable`` at full scale.

    Raises ``FileNotFoundError`` naming ``variable`` and ``what`` it should hold when it
    is unset or points nowhere (data and weights are never downloaded).

    Book: ch00, section "CPU and GPU modes".
    """
    value = os.environ.get(variable)
    if not value:
        raise FileNotFoundError(f"MVK_SCALE=full needs {variable}: set it to {what}")
    path = Path(value).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{variable}={value}: does not exist (expected {what})")
    return path


def describe(settings: dict[str, Any]) -> str:
    """One line naming the scale and its settings, for a chapter's first output.

    Book: ch00, section "CPU and GPU modes".
    """
    items = ", ".join(f"{k}={v}" for k, v in settings.items())
    return f"scale: {get_scale()} ({items})"
