"""Frame-by-frame VOS baselines without learning: copy the first mask, or follow the
optical flow.

* ``copy``: every frame gets the first frame's mask (what a tracker scores when
  nothing moves; a floor for any method).
* ``flow``: the mask of frame t-1 is carried to frame t along dense optical flow
  (Farneback, OpenCV). For each pixel of frame t the backward flow says where it was
  in frame t-1, and the pixel takes that position's id (nearest neighbour, so ids are
  never blended). Errors accumulate: a pixel lost once is never recovered, which is
  why learned methods keep a memory of the first frame (ch08).

Farneback, "Two-Frame Motion Estimation Based on Polynomial Expansion", SCIA 2003.

Book: ch07, section "A frame-by-frame baseline".
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from mvk_tutorial.vos.data import (
    list_annotations,
    list_frames,
    list_sequences,
    read_frame,
    read_mask,
    write_mask,
)

METHODS = ("copy", "flow")


def warp_mask(mask: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Move an ``(H, W)`` id map along a backward flow ``(H, W, 2)`` (dx, dy).

    Pixel (x, y) of the result takes the id at ``(x + dx, y + dy)`` of ``mask``
    (nearest neighbour; outside the image -> background).

    Book: ch07, section "A frame-by-frame baseline".
    """
    H, W = mask.shape
    xs, ys = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    map_x = xs + flow[..., 0]  # (H, W) where each pixel came from
    map_y = ys + flow[..., 1]  # (H, W)
    return cv2.remap(
        mask,
        map_x,
        map_y,
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def backward_flow(frame_t: np.ndarray, frame_prev: np.ndarray) -> np.ndarray:
    """Dense Farneback flow from frame t to frame t-1: ``(H, W, 2)`` float32 (dx, dy).

    Book: ch07, section "A frame-by-frame baseline".
    """
    g_t = cv2.cvtColor(frame_t, cv2.COLOR_RGB2GRAY)
    g_p = cv2.cvtColor(frame_prev, cv2.COLOR_RGB2GRAY)
    return cv2.calcOpticalFlowFarneback(
        g_t, g_p, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
        poly_n=5, poly_sigma=1.2, flags=0,
    )  # fmt: skip


def propagate(frames: list[np.ndarray], first_mask: np.ndarray, method: str = "flow"):
    """Masks for every frame from the first frame's mask (frame 0 keeps it).

    Args:
        frames: ``T`` RGB frames ``(H, W, 3) uint8``.
        first_mask: ``(H, W) uint8`` ids of frame 0.
        method: ``"copy"`` or ``"flow"``.

    Returns:
        A list of ``T`` ``(H, W) uint8`` id maps.

    Book: ch07, section "A frame-by-frame baseline".
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    first_mask = np.where(first_mask == 255, 0, first_mask).astype(np.uint8)
    masks = [first_mask]
    for t in range(1, len(frames)):
        if method == "copy":
            masks.append(first_mask)
        else:
            masks.append(warp_mask(masks[-1], backward_flow(frames[t], frames[t - 1])))
    return masks


def run_baseline(
    davis_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    method: str = "flow",
    split: str = "val",
    year: str = "2017",
    sequences: list[str] | None = None,
    progress: bool = True,
) -> Path:
    """Segment every sequence of a DAVIS-layout set and write palette PNGs.

    ``<out_dir>/<seq>/<frame>.png``, one per frame, named like the annotations, so
    that :func:`mvk_tutorial.vos.evaluation.evaluate` can score the folder. A sequence
    whose PNGs are all present is skipped (the run can resume).

    Book: ch07, section "A frame-by-frame baseline".
    """
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    seqs = (
        sequences if sequences is not None else list_sequences(davis_root, year, split)
    )
    quiet = {} if progress else {"disable": True}  # else TQDM_DISABLE decides
    bar = tqdm(seqs, desc=f"baseline {method}", unit="seq", **quiet)
    for seq in bar:
        frame_paths = list_frames(davis_root, seq)
        first = list_annotations(davis_root, seq)[0]
        targets = [out_dir / seq / f"{p.stem}.png" for p in frame_paths]
        if all(p.is_file() for p in targets):
            continue
        frames = [read_frame(p) for p in frame_paths]
        for path, mask in zip(targets, propagate(frames, read_mask(first), method)):
            write_mask(path, mask)
    return out_dir
