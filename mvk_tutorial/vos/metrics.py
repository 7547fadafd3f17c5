"""J (region similarity) and F (contour accuracy): the DAVIS metrics, per frame.

The definitions are exactly those of the official davis2017-evaluation toolkit
(``davis2017/metrics.py`` and ``davis2017/utils.py``), semi-supervised task:

* J is the Jaccard index (IoU) of the predicted and ground-truth masks of one object in
  one frame; 1 when both masks are empty.
* F is the boundary F-measure. Boundaries are one pixel wide (``seg2bmap``); a
  boundary pixel of one mask counts as matched when it lies inside the other mask's
  boundary dilated by a disk of radius ``ceil(0.008 * ||(H, W)||)`` (8 pixels at
  480x854). Precision and recall are the matched fractions; F = 2PR / (P + R); F = 1
  when both boundaries are empty and 0 when only one is.
* Per object: mean, recall (share of frames above 0.5) and decay (mean of the first
  quarter of the frames minus mean of the last quarter, with the official binning).

Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for Video Object
Segmentation", CVPR 2016; Pont-Tuset et al., "The 2017 DAVIS Challenge on Video Object
Segmentation", arXiv:1704.00675. Official code:
https://github.com/davisvideochallenge/davis2017-evaluation

What differs from the official code is speed, not numbers: J for all objects of a
sequence comes from one confusion matrix; boundaries are computed for all frames at
once; each dilation runs only on the bounding box of the two boundaries (the dilated
map is needed only at boundary pixels, and every boundary pixel lies in that box).

Book: ch07, section "From frames to J&F".
"""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np

BOUND_TH = 0.008  # official default: boundary tolerance as a fraction of the diagonal


def disk(radius: float) -> np.ndarray:
    """The disk structuring element of ``skimage.morphology.disk(radius)``.

    ``(2r+1, 2r+1) uint8`` with ones where ``x**2 + y**2 <= r**2`` (x, y the offsets
    from the centre), built the way scikit-image builds it.

    Book: ch07 "Video object segmentation: task, data, metrics" (F).
    """
    offsets = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(offsets, offsets)
    return ((x**2 + y**2) <= radius**2).astype(np.uint8)


def boundary_radius(shape: tuple[int, int], bound_th: float = BOUND_TH) -> int:
    """Dilation radius in pixels: ``ceil(bound_th * ||(H, W)||)``, or ``bound_th``.

    "bound_th: Boundary threshold in pixels if >= 1, else as a fraction of the image
    diagonal" (official ``f_measure``). 480x854 -> 8, 480x910 -> 9, 480x1152 -> 10.

    Book: ch07 "Video object segmentation: task, data, metrics" (F).
    """
    if bound_th >= 1:
        return int(bound_th)
    return math.ceil(bound_th * float(np.linalg.norm(shape)))


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """One-pixel boundary map of a binary mask, batched over leading dimensions.

    Official rule: with E, S, SE the mask shifted one pixel east, south and south-east
    (zero fill), ``b = seg^E | seg^S | seg^SE``; in the last row only ``seg^E``
    counts, in the last column only ``seg^S``, and the corner is 0. The boundary sits
    on the mask's side of each edge facing the origin, half a pixel off the true edge.

    Args:
        seg: ``(..., H, W)`` array, nonzero = inside.

    Returns:
        ``(..., H, W)`` bool boundary map.

    Book: ch07, section "Exercise 2: the boundary map".
    """
    seg = np.asarray(seg).astype(bool, copy=False)
    # Same map as the official code, built from three one-pixel differences instead
    # of three shifted copies: the last row only sees its east neighbour, the last
    # column only its south neighbour, and the corner sees nothing.
    b = np.zeros_like(seg)
    b[..., :, :-1] = seg[..., :, :-1] ^ seg[..., :, 1:]  # seg ^ E (every row)
    b[..., :-1, :] |= seg[..., :-1, :] ^ seg[..., 1:, :]  # seg ^ S (every column)
    b[..., :-1, :-1] |= seg[..., :-1, :-1] ^ seg[..., 1:, 1:]  # seg ^ SE
    return b


def jaccard(gt: np.ndarray, pred: np.ndarray) -> np.ndarray | float:
    """J = |gt & pred| / |gt | pred| per frame; 1 where the union is empty.

    Args:
        gt, pred: binary masks ``(H, W)`` or ``(T, H, W)`` of the same shape.

    Returns:
        A float for one frame, a ``(T,)`` float64 array for several.

    Book: ch07, section "Exercise 1: IoU".
    """
    gt = np.asarray(gt).astype(bool, copy=False)
    pred = np.asarray(pred).astype(bool, copy=False)
    if gt.shape != pred.shape:
        raise ValueError(f"jaccard: shapes differ, gt {gt.shape} vs pred {pred.shape}")
    inter = np.sum(gt & pred, axis=(-2, -1))
    union = np.sum(gt | pred, axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        j = inter / union
    j = np.where(union == 0, 1.0, j)
    return float(j) if j.ndim == 0 else j


def _matched(b_fg: np.ndarray, b_gt: np.ndarray, kernel: np.ndarray) -> tuple[int, int]:
    """(fg boundary pixels near gt, gt boundary pixels near fg) for one frame."""
    rows = np.flatnonzero(np.any(b_fg, axis=1) | np.any(b_gt, axis=1))
    cols = np.flatnonzero(np.any(b_fg, axis=0) | np.any(b_gt, axis=0))
    # Crop to the box holding every boundary pixel: a dilation inside the box only
    # needs pixels inside it, and the counts only read it at boundary pixels.
    box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    fg = b_fg[box].view(np.uint8)
    gt = b_gt[box].view(np.uint8)
    fg_dil = cv2.dilate(fg, kernel)
    gt_dil = cv2.dilate(gt, kernel)
    fg_match = int(np.count_nonzero(fg & gt_dil))
    gt_match = int(np.count_nonzero(gt & fg_dil))
    return fg_match, gt_match


def _f_from_counts(n_fg: int, n_gt: int, fg_match: int, gt_match: int) -> float:
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = fg_match / float(n_fg)
        recall = gt_match / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def boundary_f(
    gt: np.ndarray, pred: np.ndarray, bound_th: float = BOUND_TH
) -> np.ndarray | float:
    """F = boundary F-measure per frame (official ``db_eval_boundary``).

    Args:
        gt, pred: binary masks ``(H, W)`` or ``(T, H, W)`` of the same shape.
        bound_th: tolerance, a fraction of the image diagonal (or pixels if >= 1).

    Returns:
        A float for one frame, a ``(T,)`` float64 array for several.

    Book: ch07 "Video object segmentation: task, data, metrics" (F).
    """
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(
            f"boundary_f: shapes differ, gt {gt.shape} vs pred {pred.shape}"
        )
    single = gt.ndim == 2
    b_gt = seg2bmap(gt.reshape(-1, *gt.shape[-2:]))  # (T, H, W)
    b_fg = seg2bmap(pred.reshape(-1, *pred.shape[-2:]))  # (T, H, W)
    kernel = disk(boundary_radius(gt.shape[-2:], bound_th))
    n_gt = np.count_nonzero(b_gt, axis=(1, 2))
    n_fg = np.count_nonzero(b_fg, axis=(1, 2))
    out = np.empty(len(b_gt))
    for t in range(len(b_gt)):
        fg_match = gt_match = 0
        if n_fg[t] and n_gt[t]:
            fg_match, gt_match = _matched(b_fg[t], b_gt[t], kernel)
        out[t] = _f_from_counts(int(n_fg[t]), int(n_gt[t]), fg_match, gt_match)
    return float(out[0]) if single else out


def frame_scores(
    gt: np.ndarray, pred: np.ndarray, num_objects: int, kernel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """J and F of objects 1..K in one frame of id maps (what the evaluation calls).

    Everything outside the box holding the foreground of both maps (grown by one
    pixel, where the boundary of a mask can lie) is background in every object mask,
    so J and F are computed on that box only.

    Args:
        gt, pred: ``(H, W)`` uint8 id maps (ground-truth void already set to 0).
        num_objects: K; ids above K in ``gt`` are no object.
        kernel: ``disk(boundary_radius((H, W)))``.

    Returns:
        ``(J, F)``, two ``(K,)`` float64 arrays.

    Book: ch07, section "From frames to J&F".
    """
    H, W = gt.shape
    j, f = np.ones(num_objects), np.ones(num_objects)  # both empty: 1
    fg = (gt != 0) | (pred != 0)
    rows, cols = np.flatnonzero(fg.any(axis=1)), np.flatnonzero(fg.any(axis=0))
    if not len(rows):
        return j, f
    y0, y1 = max(rows[0] - 1, 0), min(rows[-1] + 2, H)
    x0, x1 = max(cols[0] - 1, 0), min(cols[-1] + 2, W)
    g_crop, p_crop = gt[y0:y1, x0:x1], pred[y0:y1, x0:x1]  # (h, w) views
    last_row, last_col = y1 == H, x1 == W
    for k in range(1, num_objects + 1):
        g, p = g_crop == k, p_crop == k
        inter, union = np.count_nonzero(g & p), np.count_nonzero(g | p)
        j[k - 1] = inter / union if union else 1.0
        b_g, b_p = _crop_bmap(g, last_row, last_col), _crop_bmap(p, last_row, last_col)
        n_g, n_p = np.count_nonzero(b_g), np.count_nonzero(b_p)
        fg_match = gt_match = 0
        if n_g and n_p:
            fg_match, gt_match = _matched(b_p, b_g, kernel)
        f[k - 1] = _f_from_counts(n_p, n_g, fg_match, gt_match)
    return j, f


def _crop_bmap(seg: np.ndarray, last_row: bool, last_col: bool) -> np.ndarray:
    """``seg2bmap`` of a crop whose bottom/right margin is background unless it is
    the image's last row/column (where the official edge rule applies)."""
    if last_row and last_col:
        return seg2bmap(seg)
    # A zero row/column below/right makes the crop's edge behave like the interior.
    padded = np.zeros(
        (seg.shape[0] + (not last_row), seg.shape[1] + (not last_col)), bool
    )
    padded[: seg.shape[0], : seg.shape[1]] = seg
    return seg2bmap(padded)[: seg.shape[0], : seg.shape[1]]


def decay_bins(n: int) -> list[slice]:
    """The four overlapping bins of the official decay, as slices of ``n`` frames.

    Official: ``ids = round(linspace(1, n, 5) + 1e-10) - 1`` cast to uint8 (which wraps
    modulo 256 beyond 256 frames, as on x86; kept for parity), bin i =
    ``x[ids[i] : ids[i+1] + 1]`` with NumPy 1's promotion of ``ids[i+1] + 1`` to int64
    (the toolkit's era), so neighbouring bins share a frame.

    Book: ch07 "Video object segmentation: task, data, metrics" (statistics).
    """
    ids = np.round(np.linspace(1, n, 5) + 1e-10) - 1
    ids = ids.astype(np.int64) % 256
    return [slice(int(ids[i]), int(ids[i + 1]) + 1) for i in range(4)]


def db_statistics(per_frame: np.ndarray) -> tuple[float, float, float]:
    """Mean, recall (share of frames > 0.5) and decay of one object's per-frame scores.

    NaN values are ignored by the mean and the decay, as in the official code.

    Book: ch07 "Video object segmentation: task, data, metrics" (statistics).
    """
    x = np.asarray(per_frame, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = np.nanmean(x)
        recall = np.nanmean(x > 0.5)
        bins = [x[s] for s in decay_bins(len(x))]
        decay = np.nanmean(bins[0]) - np.nanmean(bins[3])
    return float(mean), float(recall), float(decay)
