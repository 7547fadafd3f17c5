"""The ch07 exercise checks accept the reference and catch typical wrong answers."""

from __future__ import annotations

import numpy as np
import pytest

from mvk_tutorial.checks import vos as checks_vos


def _iou_reference(gt, pred):  # written out here, not imported from the package
    gt, pred = np.asarray(gt, bool), np.asarray(pred, bool)
    union = np.logical_or(gt, pred).sum()
    return 1.0 if union == 0 else np.logical_and(gt, pred).sum() / union


def _bmap_reference(seg):  # pixel loop over the official definition
    seg = np.asarray(seg, bool)
    H, W = seg.shape

    def v(y, x):
        return bool(seg[y, x]) if y < H and x < W else False

    out = np.zeros((H, W), bool)
    for y in range(H):
        for x in range(W):
            if y == H - 1 and x == W - 1:
                continue
            nbrs = (
                [(0, 1)]
                if y == H - 1
                else [(1, 0)]
                if x == W - 1
                else [(0, 1), (1, 0), (1, 1)]
            )
            out[y, x] = any(v(y, x) != v(y + dy, x + dx) for dy, dx in nbrs)
    return out


def test_iou_check_passes_reference(capsys):
    checks_vos.iou(_iou_reference)
    assert capsys.readouterr().out.strip() == "PASSED iou: 6/6 cases"


def _iou_nan_as_zero(gt, pred):  # forgets that an empty union means J = 1
    union = (gt | pred).sum()
    return 0.0 if union == 0 else (gt & pred).sum() / union


@pytest.mark.parametrize(
    "wrong",
    [
        _iou_nan_as_zero,
        lambda gt, pred: (gt & pred).sum() / max(gt.sum(), 1),  # divides by |gt|
        lambda gt, pred: 2 * (gt & pred).sum() / max(gt.sum() + pred.sum(), 1),  # Dice
    ],
)
def test_iou_check_catches_wrong(wrong):
    with pytest.raises(AssertionError, match="iou: case"):
        checks_vos.iou(wrong)


def test_boundary_map_check_passes_reference(capsys):
    checks_vos.boundary_map(_bmap_reference)
    assert capsys.readouterr().out.strip() == "PASSED boundary_map: 5/5 cases"


def _no_edge_rule(seg):
    p = np.pad(np.asarray(seg, bool), ((0, 1), (0, 1)))
    return (
        (p[:-1, :-1] ^ p[:-1, 1:])
        | (p[:-1, :-1] ^ p[1:, :-1])
        | (p[:-1, :-1] ^ p[1:, 1:])
    )


def _four_neighbours(seg):
    from mvk_tutorial.vos.metrics import seg2bmap

    b = seg2bmap(seg)
    b[:-1, :-1] = (seg[:-1, :-1] ^ seg[:-1, 1:]) | (seg[:-1, :-1] ^ seg[1:, :-1])
    return b


@pytest.mark.parametrize("wrong", [_no_edge_rule, _four_neighbours])
def test_boundary_map_check_catches_wrong(wrong):
    with pytest.raises(AssertionError, match="boundary_map: case"):
        checks_vos.boundary_map(wrong)


def test_unanswered_exercise_passes_through():
    def todo(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks_vos.iou(todo)
