"""Checks for the exercises of ch07 "Video object segmentation: task, data, metrics".

``checks.iou(my_iou)``: J of one frame, ``my_iou(gt, pred) -> float`` on ``(H, W)``
bool arrays, 1.0 when both masks are empty.
``checks.boundary_map(my_seg2bmap)``: the official one-pixel boundary map,
``my_seg2bmap(seg) -> (H, W) bool``.

The references are :func:`mvk_tutorial.vos.metrics.jaccard` and
:func:`mvk_tutorial.vos.metrics.seg2bmap`.
"""

from __future__ import annotations

import numpy as np
import torch

from mvk_tutorial.checks.core import case, check_function
from mvk_tutorial.vos.metrics import jaccard, seg2bmap


def _masks(seed: int, shape: tuple[int, int], p: float) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) < p


def _square(shape, y0, y1, x0, x1) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def _iou_cases():
    z = np.zeros((6, 7), bool)
    sq = _square((6, 7), 1, 4, 1, 5)
    return [
        case("a square against itself", sq, sq.copy()),
        case("two overlapping squares", sq, _square((6, 7), 2, 6, 3, 7)),
        case(
            "disjoint masks", _square((6, 7), 0, 2, 0, 2), _square((6, 7), 4, 6, 5, 7)
        ),
        case("empty prediction, object present", sq, z.copy()),
        case("both masks empty (the object is absent): J = 1", z, z.copy()),
        case("random 16x20 masks", _masks(0, (16, 20), 0.4), _masks(1, (16, 20), 0.5)),
    ]


def iou(candidate) -> None:
    """Check ``iou(gt, pred) -> float`` (region similarity J of one frame).

    Book: ch07, section "Exercise 1: IoU".
    """
    check_function(
        "iou",
        lambda gt, pred: float(candidate(gt, pred)),
        lambda gt, pred: float(jaccard(gt, pred)),
        _iou_cases(),
        hint="|gt & pred| / |gt | pred| with boolean arrays; when the union is empty "
        "(the object is absent and none is predicted) the answer is 1.0, not NaN.",
        atol=1e-12,
        rtol=0.0,
    )


def _bmap_cases():
    sq = _square((6, 7), 1, 4, 2, 5)
    edge = _square((5, 6), 2, 5, 3, 6)  # touches the last row and column
    return [
        case("a 3x3 square inside a 6x7 image", sq),
        case("a square touching the last row and the last column", edge),
        case("a full image (only the edge rules fire)", np.ones((4, 5), bool)),
        case("an empty image", np.zeros((4, 5), bool)),
        case("a random 12x15 mask", _masks(2, (12, 15), 0.5)),
    ]


def boundary_map(candidate) -> None:
    """Check ``seg2bmap(seg) -> (H, W) bool`` against the official rule.

    Book: ch07, section "Exercise 2: the boundary map".
    """
    check_function(
        "boundary_map",
        lambda seg: torch.from_numpy(np.asarray(candidate(seg), dtype=bool)),
        lambda seg: torch.from_numpy(seg2bmap(seg)),
        _bmap_cases(),
        hint="b = seg^E | seg^S | seg^SE with E, S, SE the mask shifted one pixel "
        "(zero fill); then the last row keeps only seg^E, the last column only seg^S, "
        "and the bottom-right corner is False.",
    )
