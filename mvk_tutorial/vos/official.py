"""A plain transcription of the official davis2017-evaluation code (the slow path).

Kept as the reference that the fast code in :mod:`mvk_tutorial.vos.metrics` and
:mod:`mvk_tutorial.vos.evaluation` is tested against, and as the baseline that
``benchmarks/jf.py`` times. It follows ``davis2017/metrics.py`` (``db_eval_iou``,
``db_eval_boundary``, ``f_measure``, ``_seg2bmap``), ``davis2017/utils.py``
(``db_statistics``), ``davis2017/davis.py`` / ``results.py`` (reading every PNG into a
float64 array and one-hot masks) and ``davis2017/evaluation.py`` (the per-object,
per-frame loop) step by step, with two substitutions for packages absent here:
``skimage.morphology.disk(r)`` is built from its formula (``x**2 + y**2 <= r**2``) and
``sys.exit`` becomes an exception. Dilation is ``cv2.dilate`` as in the official code.
Official code: https://github.com/davisvideochallenge/davis2017-evaluation

Book: ch07 "Video object segmentation: task, data, metrics".
"""

from __future__ import annotations

import os
import warnings
from glob import glob

import cv2
import numpy as np
from PIL import Image


def _disk(radius: float) -> np.ndarray:
    """``skimage.morphology.disk`` (uint8): ``x**2 + y**2 <= r**2``."""
    L = np.arange(-radius, radius + 1)
    X, Y = np.meshgrid(L, L)
    return np.array((X**2 + Y**2) <= radius**2, dtype=np.uint8)


def db_eval_iou(annotation, segmentation, void_pixels=None):
    """Official ``db_eval_iou`` (J), frames in the leading dimension."""
    assert annotation.shape == segmentation.shape
    annotation = annotation.astype(bool)
    segmentation = segmentation.astype(bool)
    if void_pixels is not None:
        void_pixels = void_pixels.astype(bool)
    else:
        void_pixels = np.zeros_like(segmentation)
    inters = np.sum(
        (segmentation & annotation) & np.logical_not(void_pixels), axis=(-2, -1)
    )
    union = np.sum(
        (segmentation | annotation) & np.logical_not(void_pixels), axis=(-2, -1)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        j = inters / union
    if j.ndim == 0:
        j = 1 if np.isclose(union, 0) else j
    else:
        j[np.isclose(union, 0)] = 1
    return j


def seg2bmap(seg):
    """Official ``_seg2bmap`` for the case ``width, height = seg.shape``."""
    seg = seg.astype(bool)
    seg[seg > 0] = 1
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def f_measure(foreground_mask, gt_mask, void_pixels=None, bound_th=0.008):
    """Official ``f_measure`` for one frame."""
    if void_pixels is not None:
        void_pixels = void_pixels.astype(bool)
    else:
        void_pixels = np.zeros_like(foreground_mask).astype(bool)
    bound_pix = (
        bound_th
        if bound_th >= 1
        else np.ceil(bound_th * np.linalg.norm(foreground_mask.shape))
    )
    fg_boundary = seg2bmap(foreground_mask * np.logical_not(void_pixels))
    gt_boundary = seg2bmap(gt_mask * np.logical_not(void_pixels))
    fg_dil = cv2.dilate(fg_boundary.astype(np.uint8), _disk(bound_pix))
    gt_dil = cv2.dilate(gt_boundary.astype(np.uint8), _disk(bound_pix))
    gt_match = gt_boundary * fg_dil
    fg_match = fg_boundary * gt_dil
    n_fg = np.sum(fg_boundary)
    n_gt = np.sum(gt_boundary)
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision = np.sum(fg_match) / float(n_fg)
        recall = np.sum(gt_match) / float(n_gt)
    if precision + recall == 0:
        return 0
    return 2 * precision * recall / (precision + recall)


def db_eval_boundary(annotation, segmentation, void_pixels=None, bound_th=0.008):
    """Official ``db_eval_boundary`` (F), frames in the leading dimension."""
    assert annotation.shape == segmentation.shape
    if annotation.ndim == 3:
        f_res = np.zeros(annotation.shape[0])
        for t in range(annotation.shape[0]):
            vp = None if void_pixels is None else void_pixels[t]
            f_res[t] = f_measure(segmentation[t], annotation[t], vp, bound_th=bound_th)
        return f_res
    return f_measure(segmentation, annotation, void_pixels, bound_th=bound_th)


def db_statistics(per_frame_values):
    """Official ``db_statistics``: mean, recall, decay."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        M = np.nanmean(per_frame_values)
        O = np.nanmean(per_frame_values > 0.5)
    N_bins = 4
    ids = np.round(np.linspace(1, len(per_frame_values), N_bins + 1) + 1e-10) - 1
    ids = ids.astype(np.uint8)
    # The toolkit predates NumPy 2: there ``ids[i + 1] + 1`` (a uint8 scalar plus an
    # int) is promoted to int64; NumPy 2 would wrap 255 + 1 to 0. Keep NumPy 1's rule.
    D_bins = [per_frame_values[int(ids[i]) : int(ids[i + 1]) + 1] for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        D = np.nanmean(D_bins[0]) - np.nanmean(D_bins[3])
    return M, O, D


def _read_all(paths):
    first = np.array(Image.open(paths[0]))
    out = np.zeros((len(paths), *first.shape))  # float64, as official
    for i, p in enumerate(paths):
        out[i, ...] = np.array(Image.open(p))
    return out


def _one_hot(masks, num_objects):
    tmp = np.ones((num_objects, *masks.shape))
    tmp = tmp * np.arange(1, num_objects + 1)[:, None, None, None]
    return (tmp == masks[None, ...]) > 0


def evaluate_sequence(davis_root, results_root, seq):
    """Official semi-supervised evaluation of one sequence: (J, F), each (K, T-2)."""
    gt_paths = sorted(
        glob(os.path.join(davis_root, "Annotations", "480p", seq, "*.png"))
    )
    masks = _read_all(gt_paths)
    masks[masks == 255] = 0
    num_objects = int(np.max(masks[0, ...]))
    gt = _one_hot(masks, num_objects)[:, 1:-1]
    ids = [os.path.basename(p)[:-4] for p in gt_paths][1:-1]
    res = _read_all([os.path.join(results_root, seq, f"{i}.png") for i in ids])
    res = _one_hot(res, int(np.max(res)))
    if res.shape[0] > gt.shape[0]:
        raise ValueError(f"{seq}: an index higher than the number of objects")
    if res.shape[0] < gt.shape[0]:
        pad = np.zeros((gt.shape[0] - res.shape[0], *res.shape[1:]))
        res = np.concatenate([res, pad], axis=0)
    j = np.zeros(gt.shape[:2])
    f = np.zeros(gt.shape[:2])
    for ii in range(gt.shape[0]):
        j[ii, :] = db_eval_iou(gt[ii], res[ii], None)
        f[ii, :] = db_eval_boundary(gt[ii], res[ii], None)
    return j, f


def evaluate(davis_root, results_root, sequences):
    """Official global numbers: dict with the column names of the global CSV."""
    JM, JR, JD, FM, FR, FD = [], [], [], [], [], []
    for seq in sequences:
        j, f = evaluate_sequence(davis_root, results_root, seq)
        for ii in range(j.shape[0]):
            m, r, d = db_statistics(j[ii])
            JM.append(m), JR.append(r), JD.append(d)
            m, r, d = db_statistics(f[ii])
            FM.append(m), FR.append(r), FD.append(d)
    return {
        "J&F-Mean": (np.mean(JM) + np.mean(FM)) / 2.0,
        "J-Mean": np.mean(JM),
        "J-Recall": np.mean(JR),
        "J-Decay": np.mean(JD),
        "F-Mean": np.mean(FM),
        "F-Recall": np.mean(FR),
        "F-Decay": np.mean(FD),
    }
