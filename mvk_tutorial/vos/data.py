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
palette, atomically, so that an interrupted run never leaves a half-written file
(the readers and the writer live in ``mvk_tutorial.vos.io``; they are re-exported here).

Book: ch07 "Video object segmentation: task, data, metrics" (section "The data").
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mvk_tutorial.utils.paths import safe_component

# the file formats live in one module shared with mvk_tutorial.mvk; re-exported here
from mvk_tutorial.vos.io import (  # noqa: F401
    DAVIS_PALETTE,
    VOID_ID,
    read_frame,
    read_mask,
    write_mask,
)

__all__ = [
    "DAVIS_PALETTE",
    "VOID_ID",
    "DavisSequence",
    "YTVOSObject",
    "YTVOSVideo",
    "YouTubeVOS",
    "list_annotations",
    "list_frames",
    "list_sequences",
    "load_sequence",
    "read_frame",
    "read_mask",
    "write_mask",
]


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
    after frame 0, and the tracker must add it there. The MVK-mini ``DAVIS/`` folder
    (``JPEGImages/480p/<video>``, ``Annotations/480p/<video>``, ``meta.json``) is read
    as well.

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
        # MVK-mini writes meta.json into its DAVIS folder (JPEGImages/480p/<video>/...):
        # read that layout too, unless "480p" is itself a video of meta.json
        sub = "480p" if (
            (self.root / "JPEGImages" / "480p").is_dir() and "480p" not in raw_videos
        ) else ""
        self.images_dir = self.root / "JPEGImages" / sub
        self.annotations_dir = self.root / "Annotations" / sub

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
        folder = self.images_dir / name
        if folder.is_dir():
            frame_names = tuple(p.stem for p in _sorted_files(folder, ".jpg"))
        else:  # no images (e.g. meta only): fall back on the annotated frames
            frame_names = tuple(sorted({f for o in objects.values() for f in o.frames}))
        return YTVOSVideo(name, objects, frame_names)

    def frame_paths(self, name: str) -> list[Path]:
        """Sorted JPEG frames of a video."""
        folder = _check_dir(self.images_dir / name, f"video {name!r}: frames")
        return _sorted_files(folder, ".jpg")

    def annotation_path(self, name: str, frame: str) -> Path:
        """Path of the annotation PNG of ``frame`` (it may not exist in ``valid``)."""
        return self.annotations_dir / name / f"{frame}.png"

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
