"""J&F the slow, obvious way: one object, one full frame at a time (our own code).

This is the baseline of ``benchmarks/jf.py`` when the official toolkit is not
installed, and a second, independent computation for the tests. It follows the metric
definitions of :mod:`mvk_tutorial.vos.metrics` literally and shares none of its speed
tricks (no confusion matrix, no batching over frames, no cropping): for every object k
and every scored frame it builds the two boolean masks ``gt == k`` and ``pred == k``,
counts their intersection and union, draws both one-pixel boundaries over the whole
frame, dilates each with the full disk, and counts matched boundary pixels.

Book: ch07, section "From frames to J&F".
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np

from mvk_tutorial.vos.data import list_annotations, read_mask
from mvk_tutorial.vos.metrics import BOUND_TH, db_statistics, disk

GLOBAL_KEYS = ["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"]


def _iou(gt: np.ndarray, pred: np.ndarray) -> float:
    union = np.logical_or(gt, pred).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(gt, pred).sum() / union)


def _boundary(seg: np.ndarray) -> np.ndarray:
    # a pixel is a boundary pixel if it differs from its east, south or south-east
    # neighbour (outside = background); the last row/column compare east/south only
    H, W = seg.shape
    padded = np.zeros((H + 1, W + 1), bool)
    padded[:H, :W] = seg
    east, south, se = padded[:H, 1:], padded[1:, :W], padded[1:, 1:]
    b = (seg != east) | (seg != south) | (seg != se)
    b[-1, :] = seg[-1, :] != east[-1, :]
    b[:, -1] = seg[:, -1] != south[:, -1]
    b[-1, -1] = False
    return b


def _f(gt: np.ndarray, pred: np.ndarray, bound_th: float) -> float:
    H, W = gt.shape
    r = bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(H, W))
    kernel = disk(r)
    b_pred, b_gt = _boundary(pred), _boundary(gt)
    d_pred = cv2.dilate(b_pred.astype(np.uint8), kernel) > 0
    d_gt = cv2.dilate(b_gt.astype(np.uint8), kernel) > 0
    n_pred, n_gt = int(b_pred.sum()), int(b_gt.sum())
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    precision = (b_pred & d_gt).sum() / n_pred
    recall = (b_gt & d_pred).sum() / n_gt
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def evaluate_sequence(
    davis_root: str | os.PathLike,
    results_root: str | os.PathLike,
    seq: str,
    bound_th: float = BOUND_TH,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame J and F, each (K, T - 2), of one sequence (first and last frame unscored).

    Book: ch07, section "From frames to J&F".
    """
    ann = list_annotations(Path(davis_root), seq)
    gts = [read_mask(p) for p in ann]
    K = int(gts[0][gts[0] != 255].max(initial=0))
    j = np.zeros((K, len(ann) - 2))
    f = np.zeros((K, len(ann) - 2))
    for t in range(1, len(ann) - 1):
        gt = gts[t]
        pred = read_mask(Path(results_root) / seq / ann[t].name)
        for k in range(1, K + 1):
            j[k - 1, t - 1] = _iou(gt == k, pred == k)
            f[k - 1, t - 1] = _f(gt == k, pred == k, bound_th)
    return j, f


def evaluate(
    davis_root: str | os.PathLike,
    results_root: str | os.PathLike,
    sequences: list[str],
    bound_th: float = BOUND_TH,
) -> dict[str, float]:
    """The global J&F table (official column names) over ``sequences``.

    Book: ch07, section "From frames to J&F".
    """
    stats = {"J": [], "F": []}
    for seq in sequences:
        j, f = evaluate_sequence(davis_root, results_root, seq, bound_th)
        for k in range(len(j)):
            stats["J"].append(db_statistics(j[k]))
            stats["F"].append(db_statistics(f[k]))
    J, F = np.array(stats["J"]), np.array(stats["F"])  # (objects, 3): mean, recall, decay
    values = [
        (J[:, 0].mean() + F[:, 0].mean()) / 2,
        *J.mean(axis=0),
        *F.mean(axis=0),
    ]
    return {k: float(v) for k, v in zip(GLOBAL_KEYS, values)}
