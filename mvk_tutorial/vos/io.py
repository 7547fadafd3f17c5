"""DAVIS / YouTube-VOS file I/O shared by the whole package: frames, palette masks, writer.

One module for what both ``mvk_tutorial.vos`` (readers, segmentation, evaluation) and
``mvk_tutorial.mvk`` (the MVK-mini generator writes DAVIS/YouTube-VOS folders) need:

- :data:`DAVIS_PALETTE`, the PASCAL VOC colour map that DAVIS annotations use;
- :func:`read_mask` / :func:`write_mask`: ``(H, W) uint8`` object ids <-> palette PNG
  (written atomically, so that an interrupted run never leaves a half-written file);
- :func:`read_frame`: a JPEG/PNG frame as ``(H, W, 3) uint8`` RGB;
- :func:`list_images`: the sorted frames of a folder;
- :func:`output_path`: where a predicted mask of (sequence, frame) goes. Every writer of
  results calls it, so that checks on sequence and frame names live in one place.

Book: ch07, section "The data".
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from mvk_tutorial.utils import atomic_path
from mvk_tutorial.utils.paths import safe_component

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

VOID_ID = 255  # DAVIS marks pixels to ignore with 255


def _voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map that DAVIS uses: the bits of the id spread over RGB."""
    palette = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    return palette


DAVIS_PALETTE: np.ndarray = _voc_palette()  # (256, 3) uint8; id 1 -> (128, 0, 0)

_MASK_MODES = {"P", "L", "1"}


# --------------------------------------------------------------------------- masks


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask PNG as an ``(H, W) uint8`` array of object ids.

    A palette (mode ``P``) PNG gives its palette indices, which are the ids; greyscale
    (``L``) and binary (``1``) PNGs are accepted as well. RGB PNGs are refused: their
    colours are not ids (save predictions with :func:`write_mask`).

    Book: ch07, section "The data".
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask {path}: no such file")
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode not in _MASK_MODES:
                raise ValueError(
                    f"mask {path}: expected a palette (mode P) or greyscale PNG of "
                    f"object ids, got mode {mode} (an RGB rendering is not a mask; "
                    "write masks with mvk_tutorial.vos.io.write_mask)"
                )
            arr = np.array(im)
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"mask {path}: cannot be read as an image ({exc})") from None
    return arr.astype(np.uint8, copy=False)


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write an ``(H, W)`` array of ids (0..255) as a palette PNG, atomically.

    The palette is :data:`DAVIS_PALETTE`, so the file shows the usual DAVIS colours and
    :func:`read_mask` (or the official toolkit's ``np.array(Image.open(p))``) reads the
    ids back. Parent folders are created. Returns the path.

    Book: ch07, section "The data".
    """
    path = Path(path)
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask for {path}: expected shape (H, W), got {mask.shape}")
    if mask.dtype == bool:
        mask = mask.astype(np.uint8)
    if not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"mask for {path}: expected integer ids, got {mask.dtype}")
    if mask.size and (mask.min() < 0 or mask.max() > 255):
        raise ValueError(
            f"mask for {path}: ids must be in 0..255, got {mask.min()}..{mask.max()}"
        )
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    im = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.tobytes())
    im.putpalette(DAVIS_PALETTE.reshape(-1).tolist())
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG")
    return path


def read_frame(path: str | os.PathLike) -> np.ndarray:
    """Read a video frame (JPEG or PNG) as an ``(H, W, 3) uint8`` RGB array.

    Book: ch07, section "The data".
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"frame {path}: no such file")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"frame {path}: cannot be decoded as an image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # (H, W, 3) RGB


def davis_palette() -> list[int]:
    """:data:`DAVIS_PALETTE` flattened: 768 ints (R, G, B of id 0, then id 1, ...).

    Book: ch07, section "The data".
    """
    return DAVIS_PALETTE.reshape(-1).tolist()


def list_images(folder: str | os.PathLike, what: str = "frames") -> list[Path]:
    """Sorted ``.jpg/.jpeg/.png`` files of ``folder`` (by name, as DAVIS numbers them).

    Raises FileNotFoundError naming ``what`` (e.g. ``--frames``) when the folder is absent
    or holds no image.

    Book: ch07, section "The data".
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{what}: folder {folder} does not exist")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"{what}: no .jpg/.png images in {folder}")
    return paths


def output_path(
    out_dir: str | os.PathLike, seq_name: str | None, frame_name: str
) -> Path:
    """Path of the predicted mask of frame ``frame_name`` (a file stem, e.g. ``00005``) of
    sequence ``seq_name``: ``out_dir/<seq_name>/<frame_name>.png`` (the DAVIS results and
    YouTube-VOS ``Annotations/`` layout), or ``out_dir/<frame_name>.png`` when
    ``seq_name`` is None (one video). Both names come from data (ImageSets, meta.json,
    frame file names) and must be single path components, so that nothing is written
    outside ``out_dir``.

    Book: ch07, section "The data".
    """
    out_dir = Path(out_dir)
    safe_component(frame_name, "frame name", repr(frame_name))
    if seq_name is not None:
        safe_component(seq_name, "sequence name", repr(seq_name))
    folder = out_dir if seq_name is None else out_dir / seq_name
    return folder / f"{frame_name}.png"
