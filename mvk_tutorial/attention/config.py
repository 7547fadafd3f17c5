"""Global switch between the fused and the manual (teaching) attention path.

Like timm's ``timm/layers/config.py``: each attention module reads
:func:`use_fused_attn` once, in its constructor, into ``self.fused_attn``; flip it
per module (``attn.fused_attn = False``) or for every module built afterwards with
:func:`set_fused_attn` or the environment variable ``MVK_FUSED_ATTN`` (``0`` = manual
path, ``1`` = fused path, the default).

Book: ch01, section "What changes on a GPU".
"""

from __future__ import annotations

import os

ENV_VAR = "MVK_FUSED_ATTN"

_FUSED: bool | None = None  # None: read the environment variable


def _from_env() -> bool:
    raw = os.environ.get(ENV_VAR, "1").strip().lower()
    if raw in {"1", "true", "yes", "on", ""}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{ENV_VAR}={raw!r}: expected 0 or 1")


def use_fused_attn() -> bool:
    """Whether new attention modules use ``F.scaled_dot_product_attention``.

    Book: ch01, section "What changes on a GPU".
    """
    return _from_env() if _FUSED is None else _FUSED


def set_fused_attn(enable: bool | None = True) -> None:
    """Set the default for modules built from now on (``None``: back to the env var).

    Book: ch01, section "What changes on a GPU".
    """
    global _FUSED
    _FUSED = None if enable is None else bool(enable)
