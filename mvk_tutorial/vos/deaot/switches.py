"""Per-model switches between our fast paths and the official formulations.

Two speed-ups change how, not what, DeAOT computes: the short-term attention over a
window (``LocalGatedPropagation.dense_fallback = False``) and batch norms folded into
the convolutions of the encoder (``fold_bn = True``). The switches live on each module
instance, so flipping them for one model (a benchmark baseline) leaves every other
model alone.

Book: ch08, section "Short-term attention without a dense matrix".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn

from mvk_tutorial.vos.deaot.attention import LocalGatedPropagation
from mvk_tutorial.vos.deaot.encoders import ConvBNReLU, InvertedResidual


def set_official_paths(model: nn.Module, on: bool) -> dict[nn.Module, tuple[str, bool]]:
    """Dense local attention and unfused BN (``on``) or our fast paths, in ``model``.

    Returns the previous values, for :func:`restore_paths`.
    Book: ch08, section "Short-term attention without a dense matrix".
    """
    old = {}
    for m in model.modules():
        if isinstance(m, LocalGatedPropagation):
            old[m] = ("dense_fallback", m.dense_fallback)
            m.dense_fallback = on
        elif isinstance(m, (ConvBNReLU, InvertedResidual)):
            old[m] = ("fold_bn", m.fold_bn)
            m.fold_bn = not on
    return old


def restore_paths(old: dict[nn.Module, tuple[str, bool]]) -> None:
    """Undo :func:`set_official_paths`.

    Book: ch08, section "Short-term attention without a dense matrix".
    """
    for m, (name, value) in old.items():
        setattr(m, name, value)


@contextlib.contextmanager
def official_paths(model: nn.Module, on: bool = True) -> Iterator[nn.Module]:
    """``with official_paths(model):`` the official formulations, then back.

    Book: ch08, section "Short-term attention without a dense matrix".
    """
    old = set_official_paths(model, on)
    try:
        yield model
    finally:
        restore_paths(old)
