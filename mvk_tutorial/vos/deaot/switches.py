"""Per-model switches between our fast paths and the official formulations.

Five speed-ups change how, not what, DeAOT computes: the short-term attention over a
window (``LocalGatedPropagation.dense_fallback = False``); batch norms folded into
the convolutions of the encoder (``fold_bn = True``, with bias, ReLU6 and residual sum
applied in the convolution's own pass, ``fused.py``, and the large stride-2 blocks run
in strips of rows); the decoder's and the attention's convolutions with their bias and
skip sums fused the same way (``ConvGN.fused``, ``FPNSegmentationHead.fused``,
``DWConv2d.fused``); the global attention's products Q K^T and A V by oneDNN's inner
product with the soft-max written in place (``GatedPropagation.onednn``); and the
linear layers by the same inner product (``fused.Linear.onednn``). The switches live on
each module instance, so flipping them for one model (a benchmark baseline) leaves
every other model alone.

Book: ch08, section "Short-term attention without a dense matrix".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn

from mvk_tutorial.vos.deaot.attention import (
    DWConv2d,
    GatedPropagation,
    LocalGatedPropagation,
)
from mvk_tutorial.vos.deaot.decoder import ConvGN, FPNSegmentationHead
from mvk_tutorial.vos.deaot.encoders import ConvBNReLU, InvertedResidual
from mvk_tutorial.vos.deaot.fused import Linear


def set_official_paths(model: nn.Module, on: bool) -> dict[nn.Module, tuple[str, bool]]:
    """Dense local attention, unfused BN and plain convs (``on``) or our fast paths.

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
        elif isinstance(m, GatedPropagation):
            old[m] = ("onednn", m.onednn)
            m.onednn = not on
        elif isinstance(m, (ConvGN, FPNSegmentationHead, DWConv2d)):
            old[m] = ("fused", m.fused)
            m.fused = not on
        elif isinstance(m, Linear):
            old[m] = ("onednn", m.onednn)
            m.onednn = not on
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
