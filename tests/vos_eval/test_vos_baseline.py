"""The ch07 frame-by-frame baselines (copy the first mask; follow optical flow)."""

from __future__ import annotations

import numpy as np
import pytest

from mvk_tutorial.vos import baseline
from mvk_tutorial.vos.data import list_annotations, read_mask
from mvk_tutorial.vos.evaluation import evaluate
from mvk_tutorial.vos.synthetic_davis import make_synthetic_davis


def test_warp_mask_constant_flow_is_a_shift():
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 4, size=(10, 12)).astype(np.uint8)
    flow = np.zeros((10, 12, 2), np.float32)
    flow[..., 0] = 2.0  # each pixel comes from 2 px to its right
    flow[..., 1] = -1.0  # and 1 px above
    expected = np.zeros_like(mask)
    expected[1:, :-2] = mask[:-1, 2:]
    assert np.array_equal(baseline.warp_mask(mask, flow), expected)


def _moving_square(T=8, step=3, size=(64, 80)):
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 255, size=(16, 16, 3)).astype(np.uint8)
    frames, masks = [], []
    for t in range(T):
        f = np.full((*size, 3), 90, np.uint8)
        m = np.zeros(size, np.uint8)
        x = 10 + step * t
        f[20:36, x : x + 16] = texture
        m[20:36, x : x + 16] = 1
        frames.append(f)
        masks.append(m)
    return frames, masks


def _iou(a, b):
    return np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1)


def test_flow_follows_a_moving_object_and_copy_does_not():
    frames, masks = _moving_square()
    first = masks[0].copy()
    first[0, 0] = 255  # void in the first annotation is dropped
    flow = baseline.propagate(frames, first, "flow")
    copy = baseline.propagate(frames, first, "copy")
    assert len(flow) == len(copy) == len(frames)
    assert flow[0][0, 0] == 0 and all(np.array_equal(c, flow[0]) for c in copy)
    assert _iou(flow[-1], masks[-1]) > 0.7
    assert _iou(copy[-1], masks[-1]) == 0.0  # moved 21 px: no overlap left
    with pytest.raises(ValueError, match="method"):
        baseline.propagate(frames, first, "magic")


def test_run_baseline_writes_every_frame_and_evaluates(tmp_path):
    davis, _ = make_synthetic_davis(
        tmp_path, num_sequences=2, num_frames=5, size=(48, 64), write_frames=True
    )
    out = baseline.run_baseline(davis, tmp_path / "copy", method="copy")
    for seq in ("synth-000", "synth-001"):
        anns = list_annotations(davis, seq)
        got = sorted((out / seq).glob("*.png"))
        assert [p.name for p in got] == [p.name for p in anns]
        first = read_mask(anns[0])
        first[first == 255] = 0
        assert all(np.array_equal(read_mask(p), first) for p in got)
    scores = evaluate(davis, out)
    assert 0.0 <= scores.global_scores["J&F-Mean"] <= 1.0
    stamp = (out / "synth-000" / "00002.png").stat().st_mtime_ns
    baseline.run_baseline(davis, out, method="copy")  # complete: skipped
    assert (out / "synth-000" / "00002.png").stat().st_mtime_ns == stamp
