"""A synthetic DAVIS-layout data set with imperfect predictions, for tests and timing.

Each sequence shows 1..K ellipses moving on a plain background (later objects drawn
over earlier ones), with optional void (255) rings around objects as in DAVIS. The
"predictions" are the annotations degraded in the ways a tracker fails: shifted,
swollen or shrunk objects, lost objects (empty masks), id swaps, and spurious blobs.
Nothing here depends on the metrics, so it can feed their tests.

Book: ch07 "Video object segmentation: task, data, metrics" (used by its tests and by
``benchmarks/jf.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from mvk_tutorial.vos.data import write_mask


def _draw(shape, centres, axes, angles, ids) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for (cx, cy), (a, b), ang, k in zip(centres, axes, angles, ids):
        cv2.ellipse(
            mask, (int(cx), int(cy)), (int(a), int(b)), float(ang), 0, 360, int(k), -1
        )
    return mask


def _degrade(gt: np.ndarray, rng: np.random.Generator, num_objects: int) -> np.ndarray:
    """A plausible wrong prediction of one annotation (ids 0..num_objects only)."""
    pred = np.where(gt == 255, 0, gt).astype(np.uint8)
    pred[pred > num_objects] = 0
    dx, dy = rng.integers(-6, 7, size=2)
    pred = np.roll(pred, (int(dy), int(dx)), axis=(0, 1))
    r = int(rng.integers(1, 6))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    u = rng.random()
    if u < 0.3:
        pred = cv2.dilate(pred, kernel)  # swollen (higher ids win at overlaps)
    elif u < 0.6:
        pred = cv2.erode(pred, kernel)  # shrunk
    if num_objects and rng.random() < 0.1:
        pred[pred == rng.integers(1, num_objects + 1)] = 0  # object lost
    if num_objects >= 2 and rng.random() < 0.05:
        a, b = rng.choice(np.arange(1, num_objects + 1), size=2, replace=False)
        pred = np.where(pred == a, b, np.where(pred == b, a, pred)).astype(np.uint8)
    if num_objects and rng.random() < 0.2:  # a spurious blob
        h, w = pred.shape
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(
            pred, c, int(rng.integers(3, 30)), int(rng.integers(1, num_objects + 1)), -1
        )
    return pred


def make_synthetic_davis(
    root: str | os.PathLike,
    num_sequences: int = 3,
    num_frames: int = 12,
    size: tuple[int, int] = (480, 854),
    max_objects: int = 3,
    seed: int = 0,
    min_objects: int = 1,
    void: bool = True,
    write_frames: bool = False,
    split: str = "val",
) -> tuple[Path, Path]:
    """Write ``root/DAVIS`` (annotations, image set) and ``root/results``.

    Returns ``(davis_root, results_root)``. Sequence i has
    ``min_objects + i % (max_objects - min_objects + 1)`` objects, so a set of
    sequences mixes min_objects..max_objects objects.

    Book: ch07 "Video object segmentation: task, data, metrics".
    """
    root = Path(root)
    davis, results = root / "DAVIS", root / "results"
    rng = np.random.default_rng(seed)
    H, W = size
    names = []
    for i in range(num_sequences):
        seq = f"synth-{i:03d}"
        names.append(seq)
        k = min_objects + i % (max_objects - min_objects + 1)
        centres = rng.uniform([0.2 * W, 0.2 * H], [0.8 * W, 0.8 * H], size=(k, 2))
        velocity = rng.normal(0, 0.01 * W, size=(k, 2))
        axes = rng.uniform(0.04 * H, 0.2 * H, size=(k, 2))
        angles = rng.uniform(0, 180, size=k)
        for t in range(num_frames):
            pos = centres + t * velocity
            gt = _draw((H, W), pos, axes, angles + 2 * t, range(1, k + 1))
            if void:  # DAVIS-like void band around the objects
                band = cv2.dilate(gt, np.ones((3, 3), np.uint8)) != gt
                gt[band & (rng.random((H, W)) < 0.5)] = 255
            write_mask(davis / "Annotations" / "480p" / seq / f"{t:05d}.png", gt)
            write_mask(results / seq / f"{t:05d}.png", _degrade(gt, rng, k))
            if write_frames:
                frame_dir = davis / "JPEGImages" / "480p" / seq
                frame_dir.mkdir(parents=True, exist_ok=True)
                img = cv2.cvtColor(
                    np.where(gt[..., None] > 0, 200, 40).astype(np.uint8),
                    cv2.COLOR_GRAY2BGR,
                )
                cv2.imwrite(str(frame_dir / f"{t:05d}.jpg"), img)
    sets = davis / "ImageSets" / "2017"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / f"{split}.txt").write_text("\n".join(names) + "\n")
    return davis, results
