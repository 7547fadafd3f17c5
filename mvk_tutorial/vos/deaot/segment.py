"""Segment a whole video with DeAOT, as the official DAVIS evaluator does.

Pipeline (aot-benchmark ``tools/eval.py`` with ``dataloaders/video_transforms.py``):
resize each RGB frame with bicubic interpolation so that its long side is at most 1040
and both sides are of the form 16k+1 (16k for Swin), normalise with the ImageNet mean and
std, run the engine, upsample the logits bilinearly to the original size, soft-max,
average over test-time augmentations (horizontal flip), arg-max, and feed the label
(nearest-resized to the input size) back into memory.

Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mvk_tutorial.vos.deaot.engine import DeAOTEngine
from mvk_tutorial.vos.deaot.model import DeAOT

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
VOID_ID = 255


def official_input_size(
    h: int,
    w: int,
    max_long_edge: int | None = 1040,
    max_short_edge: int | None = None,
    align_corners: bool = True,
    stride: int = 16,
) -> tuple[int, int]:
    """Input size of the official ``MultiRestrictSize`` (scale 1): e.g. 480x854 -> 481x849.

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    sc = 1.0
    if max_short_edge is not None and min(h, w) > max_short_edge:
        sc *= max_short_edge / min(h, w)
    if max_long_edge is not None and max(h, w) > max_long_edge:
        sc *= max_long_edge / max(h, w)
    new_h, new_w = h * sc, w * sc
    off = 1 if align_corners else 0

    def snap(x: float) -> int:
        if (x - off) % stride == 0:
            return int(x)
        return int(np.around((x - off) / stride) * stride + off)

    return snap(new_h), snap(new_w)


def preprocess(frame: np.ndarray, size: tuple[int, int], device=None) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, h, w) normalised float tensor (bicubic resize).

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    img = frame.astype(np.float32)
    if img.shape[:2] != tuple(size):
        img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    x = torch.from_numpy(img).permute(2, 0, 1).div_(255.0)  # (3, h, w)
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0).to(device)


def _as_frame(f) -> np.ndarray:
    if isinstance(f, (str, os.PathLike)):
        from mvk_tutorial.vos.data import read_frame

        return read_frame(f)
    f = np.asarray(f)
    if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
        raise ValueError(
            f"frames: expected (H, W, 3) uint8 RGB arrays, got {f.shape} {f.dtype}"
        )
    return f


def _resize_label(label: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(1, 1, H, W) ids -> nearest-resized (1, 1, h, w) long."""
    if tuple(label.shape[-2:]) == tuple(size):
        return label.long()
    return F.interpolate(label.float(), size=size, mode="nearest").long()


def iter_segment_video(
    model: DeAOT,
    frames: Sequence,
    first_mask: np.ndarray | str,
    num_objects: int | None = None,
    *,
    flip: bool = False,
    long_term_gap: int | None = None,
    max_long_term: int | None = None,
    max_long_edge: int | None = 1040,
    amp: bool = False,
) -> Iterator[np.ndarray]:
    """Yield one (H, W) uint8 mask of ids per frame (frame 0: the given mask).

    Args:
        model: a DeAOT network with its weights (on the device to use).
        frames: (H, W, 3) uint8 RGB arrays or image paths, in order.
        first_mask: (H, W) ids of frame 0 (array or palette PNG path); 255 = void.
        num_objects: default: the largest id of ``first_mask``.
        flip: also run a horizontally flipped copy and average the probabilities.
        long_term_gap, max_long_term: see ``DeAOTEngine``.
        max_long_edge: long side limit of the input (official DAVIS: 1040).
        amp: autocast to float16 (CUDA only).

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    if isinstance(first_mask, (str, os.PathLike)):
        from mvk_tutorial.vos.data import read_mask

        first_mask = read_mask(first_mask)
    label0 = np.where(np.asarray(first_mask) == VOID_ID, 0, first_mask).astype(np.int64)
    n = int(label0.max()) if num_objects is None else num_objects
    if n < 1:
        raise ValueError("first_mask: no object (all pixels are background)")
    if int(label0.max()) > n:
        raise ValueError(f"first_mask: id {int(label0.max())} > num_objects={n}")
    device = next(model.parameters()).device
    frame0 = _as_frame(frames[0])
    H, W = frame0.shape[:2]
    if label0.shape != (H, W):
        raise ValueError(
            f"first_mask: shape {label0.shape} differs from frame 0 ({H}, {W})"
        )
    size = official_input_size(
        H, W, max_long_edge, align_corners=model.cfg.align_corners
    )
    engines = [
        DeAOTEngine(model, long_term_gap, max_long_term) for _ in range(1 + flip)
    ]
    label = torch.from_numpy(label0).to(device).view(1, 1, H, W)
    autocast = torch.autocast(
        "cuda", dtype=torch.float16, enabled=amp and device.type == "cuda"
    )

    def views(x: torch.Tensor) -> list[torch.Tensor]:
        return [x, torch.flip(x, dims=[-1])][: len(engines)]

    yield label0.astype(np.uint8)
    with torch.inference_mode(), autocast:
        x = preprocess(frame0, size, device)
        for eng, xv, lv in zip(engines, views(x), views(_resize_label(label, size))):
            eng.add_reference(xv, lv, n)
        for f in frames[1:]:
            f = _as_frame(f)
            if f.shape[:2] != (H, W):
                raise ValueError(
                    f"frames: size {f.shape[:2]} differs from frame 0 ({H}, {W})"
                )
            prob = None
            for i, (eng, xv) in enumerate(
                zip(engines, views(preprocess(f, size, device)))
            ):
                p = torch.softmax(
                    eng.propagate(xv, (H, W)).float(), dim=1
                )  # (1, n+1, H, W)
                p = torch.flip(p, dims=[-1]) if i == 1 else p
                prob = p if prob is None else prob + p
            label = prob.argmax(dim=1, keepdim=True)  # (1, 1, H, W)
            for eng, lv in zip(engines, views(_resize_label(label, size))):
                eng.update_memory(lv)
            yield label[0, 0].to(torch.uint8).cpu().numpy()


def segment_video(
    model: DeAOT,
    frames: Sequence,
    first_mask: np.ndarray | str,
    num_objects: int | None = None,
    **kwargs,
) -> list[np.ndarray]:
    """All masks of a video as a list of (H, W) uint8 arrays; see ``iter_segment_video``.

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    return list(iter_segment_video(model, frames, first_mask, num_objects, **kwargs))


def segment_folder(
    model: DeAOT,
    frames_dir: str | Path,
    first_mask: str | Path,
    out_dir: str | Path,
    progress: bool = True,
    **kwargs,
) -> int:
    """Segment the frames of a folder (sorted .jpg/.png) and write palette PNGs named like
    the frames into ``out_dir``; returns the number of frames written.

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    from tqdm import tqdm

    from mvk_tutorial.vos.data import write_mask

    frames_dir = Path(frames_dir)
    if not frames_dir.is_dir():
        raise FileNotFoundError(f"--frames: folder {frames_dir} does not exist")
    paths = sorted(
        p for p in frames_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    if not paths:
        raise FileNotFoundError(f"--frames: no .jpg/.png images in {frames_dir}")
    out_dir = Path(out_dir)
    masks = iter_segment_video(model, paths, first_mask, **kwargs)
    for p, m in tqdm(
        zip(paths, masks), total=len(paths), desc=frames_dir.name, disable=not progress
    ):
        write_mask(out_dir / f"{p.stem}.png", m)
    return len(paths)
