"""Readers for the Marine Video Kit folder layout (real MVK, and MVK-mini alike).

MVK ships one folder per dive site and trip, named ``<Site>_<MonYYYY>`` (for example
``Lanai_Jul2022``, ``Tulamben1_Jun2022``)::

    <root>/videos/<site>/NNNN.mp4
    <root>/information/metadata/<site>/NNNN.json
    <root>/information/selected_frames/<site>/NNNN_KKKKK.jpg
    <root>/information/thumbnails/<site>/NNNN_KKKKK.jpg

The thumbnails carry the same names as the selected frames (one per selected frame),
as in the published MVK tree; older MVK-mini versions wrote one per video
(``thumbnails/<site>/NNNN.jpg``), and the readers accept both (:func:`list_thumbnails`,
:func:`thumbnail_path`).

No public document describes the fields of the metadata JSON, so :func:`read_metadata`
treats every field as optional and accepts a few spellings (``fps`` / ``frame_rate``,
``width`` + ``height`` / ``resolution``, ``camera`` / ``camera_model``...), and
:func:`video_info` falls back to probing the mp4 with OpenCV for what the JSON lacks.
Site and date always come from the folder name.

Functions: :func:`parse_site_name`, :func:`list_sites`, :func:`list_videos`,
:func:`list_selected_frames`, :func:`list_thumbnails`, :func:`thumbnail_path`,
:func:`read_metadata`, :func:`probe_video`,
:func:`video_info`. Bad input raises ``ValueError`` (or ``FileNotFoundError``) naming the
file and what was expected.

Book: ch09 "The Marine Video Kit dataset" (section "Directory structure and names").
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mvk_tutorial.utils.paths import check_decodable_path

MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
SITE_RE = re.compile(
    rf"^(?P<location>[A-Za-z][A-Za-z0-9-]*)_(?P<month>{'|'.join(MONTHS)})(?P<year>\d{{4}})$"
)
VIDEO_RE = re.compile(r"^(?P<video>\d{1,6})\.mp4$", re.IGNORECASE)
FRAME_RE = re.compile(
    r"^(?P<video>\d{1,6})_(?P<frame>\d{1,7})\.(jpg|jpeg|png)$", re.IGNORECASE
)

_ALIASES = {
    "duration": ("duration", "duration_s", "duration_sec", "length", "length_s"),
    "fps": ("fps", "frame_rate", "framerate", "frames_per_second"),
    "num_frames": ("num_frames", "frame_count", "frames", "nb_frames"),
    "width": ("width", "frame_width"),
    "height": ("height", "frame_height"),
    "camera": ("camera", "camera_model", "device", "model"),
    "date": ("date", "recorded", "datetime", "time"),
    "classes": ("classes", "objects", "categories", "tags"),
}


@dataclass(frozen=True)
class SiteName:
    """A parsed ``<Site>_<MonYYYY>`` folder name (``location``, ``year``, ``month`` 1..12)."""

    name: str
    location: str
    year: int
    month: int

    @property
    def date(self) -> str:
        """``"YYYY-MM"``."""
        return f"{self.year:04d}-{self.month:02d}"


def parse_site_name(name: str) -> SiteName:
    """Parse ``"Lanai_Jul2022"``; raise ``ValueError`` naming a non-conforming folder."""
    m = SITE_RE.match(name)
    if not m:
        raise ValueError(
            f"{name!r}: folder name does not follow the MVK convention "
            "<Site>_<MonYYYY> (e.g. 'Lanai_Jul2022')"
        )
    return SiteName(name, m["location"], int(m["year"]), MONTHS.index(m["month"]) + 1)


def _require_dir(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: folder not found (expected the MVK layout "
            "videos/<site>/NNNN.mp4 under the root)"
        )
    if not path.is_dir():
        raise NotADirectoryError(f"{path}: expected a folder")
    return path


def list_sites(root: str | Path, strict: bool = True) -> list[str]:
    """Site folders under ``root/videos``, sorted. With ``strict`` a folder whose name
    does not parse raises ``ValueError``; otherwise it is skipped. Book: ch09."""
    names = sorted(
        p.name
        for p in _require_dir(Path(root) / "videos").iterdir()
        if p.is_dir() and not p.name.startswith(".")
    )
    good = []
    for name in names:
        try:
            parse_site_name(name)
            good.append(name)
        except ValueError as exc:
            if strict:
                raise ValueError(f"{Path(root) / 'videos' / name}: {exc}") from None
    return good


def list_videos(root: str | Path, strict: bool = True) -> pd.DataFrame:
    """One row per video: ``site, video, date, video_path, metadata_path,
    has_metadata``. Non-``NNNN.mp4`` files raise (``strict``) or are skipped."""
    root = Path(root)
    rows = []
    for site in list_sites(root, strict=strict):
        date = parse_site_name(site).date
        for p in sorted((root / "videos" / site).iterdir()):
            m = VIDEO_RE.match(p.name)
            if not m:
                if strict and not p.name.startswith("."):
                    raise ValueError(f"{p}: expected video files named NNNN.mp4")
                continue
            meta = root / "information" / "metadata" / site / f"{m['video']}.json"
            rows.append(
                {
                    "site": site,
                    "video": m["video"],
                    "date": date,
                    "video_path": str(p),
                    "metadata_path": str(meta),
                    "has_metadata": meta.is_file(),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "site",
            "video",
            "date",
            "video_path",
            "metadata_path",
            "has_metadata",
        ],
    )


def list_selected_frames(root: str | Path) -> pd.DataFrame:
    """One row per selected frame: ``site, video, frame_index, frame_path``."""
    base = Path(root) / "information" / "selected_frames"
    rows = []
    for site_dir in sorted(p for p in _require_dir(base).iterdir() if p.is_dir()):
        for p in sorted(site_dir.iterdir()):
            m = FRAME_RE.match(p.name)
            if m:
                rows.append(
                    {
                        "site": site_dir.name,
                        "video": m["video"],
                        "frame_index": int(m["frame"]),
                        "frame_path": str(p),
                    }
                )
    return pd.DataFrame(rows, columns=["site", "video", "frame_index", "frame_path"])


THUMB_VIDEO_RE = re.compile(r"^(?P<video>\d{1,6})\.(jpg|jpeg|png)$", re.IGNORECASE)


def list_thumbnails(root: str | Path) -> pd.DataFrame:
    """One row per thumbnail: ``site, video, frame_index, thumb_path``.

    Per-selected-frame thumbnails (``NNNN_KKKKK.jpg``, the published layout) have their
    frame index; per-video ones (``NNNN.jpg``, older MVK-mini) have ``frame_index``
    -1. Other files are skipped. Book: ch09, section "Directory structure and names".
    """
    base = Path(root) / "information" / "thumbnails"
    rows = []
    for site_dir in sorted(p for p in _require_dir(base).iterdir() if p.is_dir()):
        for p in sorted(site_dir.iterdir()):
            m, v = FRAME_RE.match(p.name), THUMB_VIDEO_RE.match(p.name)
            if m or v:
                rows.append(
                    {
                        "site": site_dir.name,
                        "video": (m or v)["video"],
                        "frame_index": int(m["frame"]) if m else -1,
                        "thumb_path": str(p),
                    }
                )
    return pd.DataFrame(rows, columns=["site", "video", "frame_index", "thumb_path"])


def thumbnail_path(
    root: str | Path, site: str, video: str, frame_index: int | None = None
) -> Path:
    """The thumbnail of a selected frame, or of the video in the older layout.

    With ``frame_index``: ``NNNN_KKKKK.jpg`` if it exists; otherwise (or without
    ``frame_index``) the per-video ``NNNN.jpg``; without it and without a per-video
    file, the video's first per-frame thumbnail. ``FileNotFoundError`` names what was
    looked for. Book: ch09, section "Directory structure and names".
    """
    folder = Path(root) / "information" / "thumbnails" / site
    tried = []
    if frame_index is not None:
        p = folder / f"{video}_{int(frame_index):05d}.jpg"
        if p.is_file():
            return p
        tried.append(p.name)
    p = folder / f"{video}.jpg"
    if p.is_file():
        return p
    tried.append(p.name)
    if frame_index is None and folder.is_dir():
        per_frame = sorted(folder.glob(f"{video}_*.jpg"))
        if per_frame:
            return per_frame[0]
        tried.append(f"{video}_*.jpg")
    raise FileNotFoundError(f"{folder}: no thumbnail ({' or '.join(tried)})")


def _number(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def read_metadata(path: str | Path) -> dict:
    """Read one metadata JSON defensively; return the normalised known fields.

    Every field is optional; unknown fields are kept under ``"extra"``, and numeric
    fields whose value is not a positive number (text that is no number, a negative
    fps, NaN, a boolean) under ``"invalid"`` (field -> value; absent when none) so that callers report them. A missing file
    raises ``FileNotFoundError``, malformed JSON or a non-object ``ValueError``, both
    naming the file. Book: ch09.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: metadata file not found")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: metadata is not UTF-8 text ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}"
        ) from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    out: dict = {}
    invalid: dict = {}
    for key, names in _ALIASES.items():
        value = next(
            (raw[n] for n in names if n in raw and raw[n] not in (None, "")), None
        )
        if value is None:
            continue
        if key in ("duration", "fps", "num_frames", "width", "height"):
            given = value
            value = _number(value) if not isinstance(value, bool) else None
            if value is None:  # present but not a positive number: report it
                invalid[key] = given
        elif key == "classes":
            value = (
                [str(v) for v in value] if isinstance(value, (list, tuple)) else None
            )
        else:
            value = str(value)
        if value is not None:
            out[key] = int(value) if key in ("num_frames", "width", "height") else value
    res = raw.get("resolution")
    if (
        "width" not in out
        and isinstance(res, str)
        and re.fullmatch(r"\s*\d+\s*[xX]\s*\d+\s*", res)
    ):
        w, h = (int(v) for v in re.split(r"[xX]", res))
        out.update(width=w, height=h)
    elif "width" not in out and isinstance(res, (list, tuple)) and len(res) == 2:
        w, h = _number(res[0]), _number(res[1])
        if w and h:
            out.update(width=int(w), height=int(h))
    if invalid:
        out["invalid"] = invalid  # field -> the unusable value found in the file
    out["extra"] = {
        k: v
        for k, v in raw.items()
        if not any(k in names for names in _ALIASES.values()) and k != "resolution"
    }
    return out


def probe_video(path: str | Path) -> dict:
    """Duration, fps, frame count and size of an mp4, read with OpenCV.

    ``num_frames`` is checked by decoding: the container's index (``index_frames``) is
    trusted only if its last frame decodes and nothing follows it; otherwise the
    frames that decode are counted (a truncated file whose index sits at the front
    claims frames it no longer has). Raises ``FileNotFoundError`` for a missing file
    and ``ValueError`` naming a file that is empty, badly named (not UTF-8) or cannot
    be decoded. Book: ch09.
    """
    import cv2

    path = check_decodable_path(path, "video")  # OpenCV may crash on such names
    if not path.is_file():
        raise FileNotFoundError(f"{path}: video not found")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty video file (0 bytes)")
    if path.suffix.lower() in (".mp4", ".mov", ".m4v"):
        with open(path, "rb") as f:
            head = f.read(12)
        if len(head) < 12 or head[4:8] not in (
            b"ftyp",
            b"moov",
            b"mdat",
            b"free",
            b"wide",
            b"skip",
        ):
            raise ValueError(
                f"{path}: not an mp4/QuickTime file (no 'ftyp' box at the start)"
            )
    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None:
            raise ValueError(
                f"{path}: OpenCV cannot decode this video (corrupt or not an mp4)"
            )
        fps = _number(cap.get(cv2.CAP_PROP_FPS))
        index_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        # The index may promise frames a truncated file no longer holds: trust it only
        # if its last frame decodes; otherwise count the frames that do.
        last_ok = False
        if index_count > 1:
            cap.set(cv2.CAP_PROP_POS_FRAMES, index_count - 1)
            last_ok = cap.grab() and not cap.grab()
        elif index_count == 1:
            last_ok = not cap.grab()
    finally:
        cap.release()
    count = index_count
    if not last_ok:
        count = _count_decodable(cv2, path)
    h, w = frame.shape[:2]
    return {
        "fps": fps,
        "num_frames": count,
        "index_frames": index_count,  # what the container claims (0: not stored)
        "width": w,
        "height": h,
        "duration": count / fps if fps else None,
    }


def _count_decodable(cv2, path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        count = 0
        while cap.read()[0]:  # read = grab + decode: a frame must really decode
            count += 1
        return count
    finally:
        cap.release()


@dataclass
class VideoInfo:
    """What is known about one video; ``source`` says where each field came from."""

    site: str
    video: str
    date: str
    duration: float | None = None
    fps: float | None = None
    num_frames: int | None = None
    width: int | None = None
    height: int | None = None
    camera: str | None = None
    classes: list[str] = field(default_factory=list)
    source: dict[str, str] = field(default_factory=dict)


def video_info(
    video_path: str | Path,
    metadata_path: str | Path | None = None,
    probe: str = "missing",
) -> VideoInfo:
    """Metadata of one video: the JSON's fields, the rest probed from the mp4.

    ``probe``: ``"missing"`` probes only when a numeric field is absent from the JSON,
    ``"always"`` lets the probe override the JSON, ``"never"`` reads the JSON only.
    Site and date come from the parent folder name (``ValueError`` if it does not
    follow ``<Site>_<MonYYYY>``). Book: ch09.
    """
    video_path = Path(video_path)
    site = parse_site_name(video_path.parent.name)
    m = VIDEO_RE.match(video_path.name)
    if not m:
        raise ValueError(f"{video_path}: expected a video file named NNNN.mp4")
    info = VideoInfo(site=site.name, video=m["video"], date=site.date)
    meta = (
        read_metadata(metadata_path)
        if metadata_path and Path(metadata_path).is_file()
        else {}
    )
    for key in (
        "duration",
        "fps",
        "num_frames",
        "width",
        "height",
        "camera",
        "classes",
    ):
        if key in meta:
            setattr(info, key, meta[key])
            info.source[key] = "metadata"
    numeric = ("duration", "fps", "num_frames", "width", "height")
    if probe == "always" or (
        probe == "missing" and any(getattr(info, k) is None for k in numeric)
    ):
        probed = probe_video(video_path)
        for key in numeric:
            if probed[key] is not None and (
                probe == "always" or getattr(info, key) is None
            ):
                setattr(info, key, probed[key])
                info.source[key] = "probe"
    return info
