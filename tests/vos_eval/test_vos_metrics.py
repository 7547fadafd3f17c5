"""J and F per frame (mvk_tutorial.vos.metrics) against brute force and the official code.

The official numbers come from tests/fixtures/davis/metrics.npz, made by running
davis2017-evaluation (tests/fixtures/make_official.py) on seeded random masks.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from mvk_tutorial.vos import metrics

_spec = importlib.util.spec_from_file_location(
    "official_fixtures", Path(__file__).parents[1] / "fixtures" / "official.py"
)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


@pytest.fixture(scope="module")
def ref():
    with np.load(fx.require(fx.DAVIS / "metrics.npz"), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


SHAPES = ["9x11", "20x30", "37x64", "48x85"]


def _blobs(rng, shape, n=3, empty_prob=0.0):
    mask = np.zeros(shape, np.uint8)
    if rng.random() < empty_prob:
        return mask.astype(bool)
    H, W = shape
    for _ in range(n):
        c = (int(rng.integers(-5, W + 5)), int(rng.integers(-5, H + 5)))
        ax = (
            int(rng.integers(1, max(2, W // 3))),
            int(rng.integers(1, max(2, H // 3))),
        )
        cv2.ellipse(mask, c, ax, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return mask.astype(bool)


@pytest.mark.parametrize("r", [0, 1, 2, 3, 5, 8, 9, 10, 13])
def test_disk_is_the_formula(r):
    d = metrics.disk(r)
    assert d.shape == (2 * r + 1, 2 * r + 1) and d.dtype == np.uint8
    for i, j in itertools.product(range(2 * r + 1), repeat=2):
        assert d[i, j] == int((i - r) ** 2 + (j - r) ** 2 <= r * r)
    assert np.array_equal(d, metrics.disk(float(r)))  # official passes a float radius


@pytest.mark.parametrize("r", [1, 2, 4])
def test_cv2_dilation_with_disk_is_a_true_disk_dilation(r):
    rng = np.random.default_rng(r)
    img = (rng.random((15, 19)) < 0.03).astype(np.uint8)
    got = cv2.dilate(img, metrics.disk(r))
    ys, xs = np.nonzero(img)
    expected = np.zeros_like(img)
    for y, x in itertools.product(range(15), range(19)):
        expected[y, x] = np.any((ys - y) ** 2 + (xs - x) ** 2 <= r * r)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize(
    "shape, r", [((480, 854), 8), ((480, 910), 9), ((480, 1152), 10), ((360, 640), 6)]
)
def test_boundary_radius(shape, r):
    assert metrics.boundary_radius(shape) == r
    assert metrics.boundary_radius(shape, 3) == 3


def test_seg2bmap_brute_force_and_batched():
    rng = np.random.default_rng(0)
    segs = np.stack([_blobs(rng, (9, 11)) for _ in range(6)])
    got = metrics.seg2bmap(segs)
    for t, seg in enumerate(segs):
        H, W = seg.shape

        def v(y, x, seg=seg, H=H, W=W):
            return bool(seg[y, x]) if y < H and x < W else False

        for y, x in itertools.product(range(H), range(W)):
            if y == H - 1 and x == W - 1:
                expected = False
            elif y == H - 1:
                expected = v(y, x) != v(y, x + 1)
            elif x == W - 1:
                expected = v(y, x) != v(y + 1, x)
            else:
                expected = any(
                    v(y, x) != v(y + dy, x + dx) for dy, dx in [(0, 1), (1, 0), (1, 1)]
                )
            assert got[t, y, x] == expected, (t, y, x)


@pytest.mark.parametrize("key", SHAPES)
def test_seg2bmap_matches_official(ref, key):
    np.testing.assert_array_equal(metrics.seg2bmap(ref[f"gt_{key}"]), ref[f"bmap_{key}"])


@pytest.mark.parametrize("key", SHAPES)
def test_jaccard_matches_official(ref, key):
    got = metrics.jaccard(ref[f"gt_{key}"], ref[f"pred_{key}"])
    np.testing.assert_array_equal(got, ref[f"iou_{key}"])


def test_jaccard_brute_force_and_empty():
    rng = np.random.default_rng(1)
    gt = np.stack([_blobs(rng, (20, 30), empty_prob=0.3) for _ in range(8)])
    pred = np.stack([_blobs(rng, (20, 30), empty_prob=0.3) for _ in range(8)])
    pred[0] = gt[0] = False
    got = metrics.jaccard(gt, pred)
    for t in range(8):
        inter = sum(gt[t].flat[i] and pred[t].flat[i] for i in range(gt[t].size))
        union = sum(gt[t].flat[i] or pred[t].flat[i] for i in range(gt[t].size))
        assert got[t] == (1.0 if union == 0 else inter / union)
    assert metrics.jaccard(gt[0], pred[0]) == 1.0


def test_boundary_f_empty_cases():
    z = np.zeros((40, 50), bool)
    m = z.copy()
    m[10:20, 10:30] = True
    assert metrics.boundary_f(z, z) == 1.0
    assert metrics.boundary_f(m, z) == 0.0 and metrics.boundary_f(z, m) == 0.0
    assert metrics.boundary_f(m, m) == 1.0


def test_boundary_f_hand_case():
    # GT square; prediction shifted 3 px right, radius forced to 2: only the
    # horizontal edges' overlap and nothing of the vertical edges matches.
    gt = np.zeros((30, 30), bool)
    gt[5:15, 5:15] = True
    pred = np.roll(gt, 3, axis=1)
    b_gt, b_fg = metrics.seg2bmap(gt), metrics.seg2bmap(pred)  # brute-force checked
    ys, xs = np.nonzero(b_gt)
    py, px = np.nonzero(b_fg)
    near = lambda y, x, yy, xx: np.any((yy - y) ** 2 + (xx - x) ** 2 <= 4)
    p = np.mean([near(y, x, ys, xs) for y, x in zip(py, px)])
    r = np.mean([near(y, x, py, px) for y, x in zip(ys, xs)])
    assert metrics.boundary_f(gt, pred, bound_th=2) == pytest.approx(
        2 * p * r / (p + r), abs=1e-12
    )


@pytest.mark.parametrize("key", SHAPES)
@pytest.mark.parametrize("th", ["default", "0.05", "3px"])
def test_boundary_f_matches_official(ref, key, th):
    bound_th = {"default": 0.008, "0.05": 0.05, "3px": 3}[th]
    got = metrics.boundary_f(ref[f"gt_{key}"], ref[f"pred_{key}"], bound_th)
    np.testing.assert_array_equal(got, ref[f"f_{th}_{key}"])


def test_db_statistics_matches_official(ref):
    for row, expected in zip(ref["stats_values"], ref["stats_official"]):
        got = metrics.db_statistics(row)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15, equal_nan=True)


def test_decay_first_quarter_minus_last():
    # 9 frames: ids = [0, 2, 4, 6, 8]; bins [0:3], [2:5], [4:7], [6:9]
    x = np.array([1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.0, 0.2, 0.4])
    assert metrics.decay_bins(9) == [slice(0, 3), slice(2, 5), slice(4, 7), slice(6, 9)]
    m, r, d = metrics.db_statistics(x)
    assert m == pytest.approx(x.mean())
    assert r == pytest.approx(3 / 9)
    assert d == pytest.approx(1.0 - 0.2)


def _id_map(rng, shape, k):
    out = np.zeros(shape, np.uint8)
    for obj in range(1, k + 1):
        if rng.random() < 0.8:
            out[_blobs(rng, shape, n=1)] = obj
    return out


@pytest.mark.parametrize("shape", [(40, 70), (33, 21)])
def test_frame_scores_match_per_object_metrics(shape):
    # Blobs reach every image edge; some frames have no foreground at all; the
    # ground truth holds an id (K + 1) that is no object.
    rng = np.random.default_rng(shape[0])
    K = 3
    kernel = metrics.disk(metrics.boundary_radius(shape))
    for trial in range(60):
        gt = _id_map(rng, shape, K + 1)
        pred = _id_map(rng, shape, K)
        if trial % 10 == 0:
            gt[:] = 0
            pred[:] = 0 if trial % 20 == 0 else pred
        if trial % 7 == 0:  # objects touching the last row and the last column
            gt[-3:, :] = 1
            pred[:, -2:] = 2
        j, f = metrics.frame_scores(gt, pred, K, kernel)
        for k in range(1, K + 1):
            # jaccard / boundary_f are pinned to the official fixture above
            assert j[k - 1] == metrics.jaccard(gt == k, pred == k), (trial, k)
            assert f[k - 1] == metrics.boundary_f(gt == k, pred == k), (trial, k)
