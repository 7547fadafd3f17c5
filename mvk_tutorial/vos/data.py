"""Readers and writers for DAVIS 2016/2017 and YouTube-VOS folders.

DAVIS (``DAVIS-2017-trainval-480p.zip``, root ``DAVIS/``)::

    JPEGImages/480p/<seq>/00000.jpg ...
    Annotations/480p/<seq>/00000.png ...   palette PNGs: pixel value = object id,
                                           0 = background, 1..K objects, 255 = void
    ImageSets/<year>/<split>.txt           one sequence name per line

YouTube-VOS (``<root>/<split>/``)::

    JPEGImages/<video>/00000.jpg ...
    Annotations/<video>/00000.png ...      in ``valid``: only the frame where an
                                           object first appears is annotated
    meta.json                              {"videos": {vid: {"objects": {"<id>":
                                           {"category": str, "frames": [...]}}}}}

Masks are always ``(H, W) uint8`` arrays of object ids (never RGB); frames are
``(H, W, 3) uint8`` RGB arrays. Predictions are written as palette PNGs with the DAVIS
palette, atomically, so that an interrupted run never leaves a half-written file.

Book: ch07 "Video object segmentation: task, data, metrics" (section "The data").
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from mvk_tutorial.utils import atomic_path
from mvk_tutorial.utils.paths import safe_component

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

    Book: ch07 "Video object segmentation: task, data, metrics".
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
                    "write masks with mvk_tutorial.vos.data.write_mask)"
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

    Book: ch07 "Video object segmentation: task, data, metrics".
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

    Book: ch07 "Video object segmentation: task, data, metrics".
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"frame {path}: no such file")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"frame {path}: cannot be decoded as an image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # (H, W, 3) RGB


# --------------------------------------------------------------------------- DAVIS


def _check_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{what}: folder {path} does not exist")
    return path


def list_sequences(
    davis_root: str | os.PathLike, year: str | int = "2017", split: str = "val"
) -> list[str]:
    """Sequence names of ``ImageSets/<year>/<split>.txt``, in file order.

    Every listed sequence must have a ``JPEGImages/480p`` or ``Annotations/480p``
    folder; otherwise the error names the sequences that are absent. Blank lines are
    skipped and duplicates removed (the first occurrence is kept).

    Book: ch07 "Video object segmentation: task, data, metrics".
    """
    root = _check_dir(Path(davis_root), "DAVIS root")
    list_file = root / "ImageSets" / str(year) / f"{split}.txt"
    if not list_file.is_file():
        have = sorted(p.stem for p in (root / "ImageSets" / str(year)).glob("*.txt"))
        raise FileNotFoundError(
            f"sequence list {list_file} does not exist "
            f"(ImageSets/{year} has: {', '.join(have) or 'nothing'})"
        )
    names: list[str] = []
    text = list_file.read_text(encoding="utf-8", errors="surrogateescape")
    for line_no, line in enumerate(text.splitlines(), 1):
        name = line.strip()
        if name and name not in names:
            names.append(safe_component(name, list_file, line_no))
    missing = [
        n
        for n in names
        if not (root / "JPEGImages" / "480p" / n).is_dir()
        and not (root / "Annotations" / "480p" / n).is_dir()
    ]
    if missing:
        raise FileNotFoundError(
            f"sequence list {list_file} names {len(missing)} sequence(s) absent from "
            f"{root}: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
        )
    return names


def _sorted_files(folder: Path, suffix: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == suffix)


def list_frames(
    davis_root: str | os.PathLike, seq: str, resolution: str = "480p"
) -> list[Path]:
    """Sorted JPEG frames of one DAVIS sequence (``JPEGImages/<res>/<seq>/*.jpg``).

    Book: ch07 "Video object segmentation: task, data, metrics".
    """
    folder = Path(davis_root) / "JPEGImages" / resolution / seq
    _check_dir(folder, f"sequence {seq!r}: frames")
    frames = _sorted_files(folder, ".jpg")
    if not frames:
        raise FileNotFoundError(f"sequence {seq!r}: no .jpg frames in {folder}")
    return frames


def list_annotations(
    davis_root: str | os.PathLike, seq: str, resolution: str = "480p"
) -> list[Path]:
    """Sorted annotation PNGs of one DAVIS sequence (``Annotations/<res>/<seq>/*.png``).

    Book: ch07 "Video object segmentation: task, data, metrics".
    """
    folder = Path(davis_root) / "Annotations" / resolution / seq
    _check_dir(folder, f"sequence {seq!r}: annotations")
    masks = _sorted_files(folder, ".png")
    if not masks:
        raise FileNotFoundError(f"sequence {seq!r}: no .png annotations in {folder}")
    return masks


@dataclass
class DavisSequence:
    """One DAVIS sequence: its frames, its annotations and the number of objects.

    ``num_objects`` is the largest id of the first annotation (void 255 excluded), as
    in the official toolkit; ids above it in later frames are not objects.

    Book: ch07 "Video object segmentation: task, data, metrics".
    """

    name: str
    frames: list[Path]
    annotations: list[Path]
    num_objects: int = field(default=0)

    def read_frames(self) -> np.ndarray:
        """All frames, ``(T, H, W, 3) uint8`` RGB."""
        return np.stack([read_frame(p) for p in self.frames])

    def read_annotations(self) -> np.ndarray:
        """All annotations, ``(T, H, W) uint8`` ids (255 = void kept)."""
        masks = [read_mask(p) for p in self.annotations]
        shapes = {m.shape for m in masks}
        if len(shapes) > 1:
            raise ValueError(
                f"sequence {self.name!r}: annotations differ in size {shapes}"
            )
        return np.stack(masks)


def load_sequence(
    davis_root: str | os.PathLike, seq: str, resolution: str = "480p"
) -> DavisSequence:
    """Frames and annotations of one sequence; checks that their counts agree.

    Book: ch07 "Video object segmentation: task, data, metrics".
    """
    frames = list_frames(davis_root, seq, resolution)
    annotations = list_annotations(davis_root, seq, resolution)
    if [p.stem for p in frames] != [p.stem for p in annotations]:
        raise ValueError(
            f"sequence {seq!r}: {len(frames)} frames in {frames[0].parent} but "
            f"{len(annotations)} annotations in {annotations[0].parent}, or their "
            "names differ (they must pair up as 00000.jpg / 00000.png ...)"
        )
    first = read_mask(annotations[0])
    first = np.where(first == VOID_ID, 0, first)
    return DavisSequence(seq, frames, annotations, int(first.max()))


# --------------------------------------------------------------------- YouTube-VOS


@dataclass(frozen=True)
class YTVOSObject:
    """One object of a YouTube-VOS video: id, category, annotated frame names."""

    obj_id: int
    category: str
    frames: tuple[str, ...]

    @property
    def first_frame(self) -> str:
        """The frame where the object first appears (its reference mask)."""
        return self.frames[0]


@dataclass(frozen=True)
class YTVOSVideo:
    """One YouTube-VOS video: its name, objects and sorted frame names."""

    name: str
    objects: dict[int, YTVOSObject]
    frame_names: tuple[str, ...]

    def objects_starting_at(self, frame: str) -> list[int]:
        """Ids of the objects whose first annotated frame is ``frame``."""
        return sorted(o.obj_id for o in self.objects.values() if o.first_frame == frame)

    def late_objects(self) -> list[int]:
        """Ids of the objects that first appear after the video's first frame."""
        first = self.frame_names[0] if self.frame_names else None
        return sorted(o.obj_id for o in self.objects.values() if o.first_frame != first)


class YouTubeVOS:
    """Reader for one split of YouTube-VOS (``<root>/<split>/`` or the split folder).

    ``meta.json`` gives each object's category and annotated frames; in ``valid`` an
    object's mask is given only in the frame where it first appears, which may be
    after frame 0, and the tracker must add it there.

    Book: ch07 "Video object segmentation: task, data, metrics" (YouTube-VOS).
    """

    def __init__(self, root: str | os.PathLike, split: str | None = "valid"):
        root = Path(root)
        self.root = root / split if split and (root / split).is_dir() else root
        _check_dir(self.root, "YouTube-VOS split")
        meta_path = self.root / "meta.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"YouTube-VOS: {meta_path} does not exist")
        try:
            meta = json.loads(meta_path.read_text())
            raw_videos = meta["videos"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(
                f'YouTube-VOS: {meta_path} is not {{"videos": {{...}}}} ({exc!r})'
            ) from None
        if not isinstance(raw_videos, dict):
            raise ValueError(f'YouTube-VOS: {meta_path}: "videos" is not an object')
        for name in raw_videos:  # names become folders of the output
            safe_component(name, meta_path, f"'videos' key {name!r}")
        self.meta_path = meta_path
        self._raw = raw_videos

    def video_names(self) -> list[str]:
        """Video ids, sorted."""
        return sorted(self._raw)

    def video(self, name: str) -> YTVOSVideo:
        """Objects (sorted by first appearance in meta.json) and frames of a video."""
        if name not in self._raw:
            raise KeyError(f"YouTube-VOS: video {name!r} not in {self.meta_path}")
        objects = {}
        for key, obj in self._raw[name].get("objects", {}).items():
            frames = tuple(sorted(obj.get("frames", [])))
            if not frames:
                raise ValueError(
                    f"YouTube-VOS: {self.meta_path}: video {name!r} object {key} "
                    "lists no frames"
                )
            objects[int(key)] = YTVOSObject(int(key), obj.get("category", ""), frames)
        folder = self.root / "JPEGImages" / name
        if folder.is_dir():
            frame_names = tuple(p.stem for p in _sorted_files(folder, ".jpg"))
        else:  # no images (e.g. meta only): fall back on the annotated frames
            frame_names = tuple(sorted({f for o in objects.values() for f in o.frames}))
        return YTVOSVideo(name, objects, frame_names)

    def frame_paths(self, name: str) -> list[Path]:
        """Sorted JPEG frames of a video."""
        folder = _check_dir(self.root / "JPEGImages" / name, f"video {name!r}: frames")
        return _sorted_files(folder, ".jpg")

    def annotation_path(self, name: str, frame: str) -> Path:
        """Path of the annotation PNG of ``frame`` (it may not exist in ``valid``)."""
        return self.root / "Annotations" / name / f"{frame}.png"

    def reference_masks(self, name: str) -> dict[str, np.ndarray]:
        """``{frame: (H, W) ids}`` for every frame where some object first appears.

        Each mask keeps only the ids that start in that frame (later frames of
        ``train`` annotations also show earlier objects).
        """
        video = self.video(name)
        out = {}
        for frame in sorted({o.first_frame for o in video.objects.values()}):
            path = self.annotation_path(name, frame)
            if not path.is_file():
                raise FileNotFoundError(
                    f"YouTube-VOS: video {name!r}: {path} (first frame of objects "
                    f"{video.objects_starting_at(frame)}) does not exist"
                )
            mask = read_mask(path)
            keep = np.isin(mask, video.objects_starting_at(frame))
            out[frame] = np.where(keep, mask, 0).astype(np.uint8)
        return out
