"""Choosing and writing the selected frames and thumbnails of a video.

MVK stores a set of "selected frames" per video (43,797 for 44,060 s of video, close to
one per second: possibly a fixed-rate sample; the paper's text was not available to
us). We offer both usual rules:

- :func:`select_fixed_rate`: one frame every ``every_s`` seconds;
- :func:`select_scene_changes`: frames where the colour histogram jumps (a cut or a
  fast camera turn), measured as the Bhattacharyya distance between the HSV
  histograms of consecutive frames (``cv2.compareHist``).

:func:`select_frames` takes their union; :func:`extract_frames` writes the chosen frames
as ``NNNN_KKKKK.jpg`` atomically, and :func:`make_thumbnail` resizes an image.

Book: ch09 "The Marine Video Kit dataset" (section "Selected frames").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from mvk_tutorial.mvk.layout import probe_video
from mvk_tutorial.utils import atomic_path


def iter_frames(path: str | Path) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, bgr)`` for every frame of a video (``ValueError`` if unreadable)."""
    probe_video(path)  # clear errors for missing, empty or corrupt files
    cap = cv2.VideoCapture(str(path))
    try:
        t = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield t, frame
            t += 1
    finally:
        cap.release()


def select_fixed_rate(num_frames: int, fps: float, every_s: float = 1.0) -> list[int]:
    """Indices of one frame every ``every_s`` seconds, starting at frame 0. Book: ch09."""
    if num_frames < 0 or fps <= 0 or every_s <= 0:
        raise ValueError(
            f"expected num_frames >= 0, fps > 0, every_s > 0; got "
            f"{num_frames}, {fps}, {every_s}"
        )
    step = fps * every_s
    return sorted(
        {
            int(round(k * step))
            for k in range(int(num_frames / step) + 1)
            if int(round(k * step)) < num_frames
        }
    )


def histogram_distances(frames: list[np.ndarray], bins: int = 16) -> np.ndarray:
    """Bhattacharyya distance between HSV histograms of consecutive frames: (T-1,)."""
    hists = []
    for f in frames:
        hsv = cv2.cvtColor(f, cv2.COLOR_BGR2HSV)
        h = cv2.calcHist([hsv], [0, 1], None, [bins, bins], [0, 180, 0, 256])
        hists.append(cv2.normalize(h, h).flatten())
    return np.array(
        [
            cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA)
            for a, b in zip(hists[:-1], hists[1:])
        ],
        dtype=np.float64,
    )


def select_scene_changes(
    frames: list[np.ndarray], threshold: float = 0.35, min_gap: int = 5
) -> list[int]:
    """Frame 0 and every frame whose histogram distance to the previous one exceeds
    ``threshold``, at least ``min_gap`` frames after the last one chosen. Book: ch09."""
    if not frames:
        return []
    chosen = [0]
    for t, d in enumerate(histogram_distances(frames), start=1):
        if d > threshold and t - chosen[-1] >= min_gap:
            chosen.append(t)
    return chosen


def select_frames(
    path: str | Path, every_s: float | None = 1.0, scene_threshold: float | None = None
) -> list[int]:
    """Selected frame indices of a video: fixed rate, scene changes, or their union."""
    info = probe_video(path)
    chosen: set[int] = set()
    frames = [f for _, f in iter_frames(path)]
    if every_s is not None:
        chosen |= set(select_fixed_rate(len(frames), info["fps"] or 30.0, every_s))
    if scene_threshold is not None:
        chosen |= set(select_scene_changes(frames, scene_threshold))
    return sorted(chosen)


def make_thumbnail(image: np.ndarray, width: int = 160) -> np.ndarray:
    """Resize ``image`` (H, W, 3) to ``width`` pixels wide, keeping the aspect ratio."""
    if image.ndim != 3 or width < 1:
        raise ValueError(
            f"expected an (H, W, 3) image and width >= 1, got {image.shape}, {width}"
        )
    h, w = image.shape[:2]
    height = max(1, int(round(width * h / w)))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def write_image(path: str | Path, image: np.ndarray, quality: int = 90) -> Path:
    """Write a BGR image atomically (JPEG ``quality`` for .jpg files)."""
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise OSError(f"{path}: OpenCV could not write the image")
    return Path(path)


def extract_frames(
    path: str | Path, indices: list[int], out_dir: str | Path
) -> list[Path]:
    """Write frames ``indices`` of video ``path`` (``NNNN.mp4``) as ``out_dir/NNNN_KKKKK.jpg``."""
    path, out_dir = Path(path), Path(out_dir)
    wanted, written = set(indices), []
    for t, frame in iter_frames(path):
        if t in wanted:
            written.append(write_image(out_dir / f"{path.stem}_{t:05d}.jpg", frame))
    return written
