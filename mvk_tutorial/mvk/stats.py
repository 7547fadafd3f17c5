"""Statistics of an MVK-layout collection, as the MVK paper reports them.

:func:`collection_stats` walks the layout, reads each video's metadata (probing the mp4
where the JSON lacks a field) and returns the number of videos and dive sites, total,
mean, median, minimum and maximum duration, selected frames and cameras, plus a list of
problems: every bad file (corrupt or empty mp4, malformed JSON, badly named folder or
file) is reported with its path and the reason instead of stopping the walk.

:func:`word_share` is the word-frequency analysis of captions: the share of frames whose
caption contains each word (the MVK project page shows it for ClipCap captions: THE
71.5 %, REEF 64.4 %, A 54.5 %, CORAL 46.4 %, FISH 25.4 %...).

Book: ch09, sections "The statistics of the paper, on MVK-mini",
"Thumbnails and their captions".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mvk_tutorial.mvk.layout import (
    FRAME_RE,
    VIDEO_RE,
    parse_site_name,
    probe_video,
    read_metadata,
    video_info,
)


@dataclass
class CollectionStats:
    """``summary`` (numbers), ``videos`` (one row per readable video), ``problems``."""

    summary: dict
    videos: pd.DataFrame
    problems: list[tuple[str, str]] = field(default_factory=list)


def collection_stats(
    root: str | Path, probe: str = "missing", check_videos: bool = True
) -> CollectionStats:
    """Walk ``root`` (MVK layout) and compute the paper's statistics. Book: ch09.

    ``probe`` is passed to :func:`~mvk_tutorial.mvk.layout.video_info`; with
    ``check_videos`` every mp4 is opened and its first frame decoded, so that a corrupt
    or empty file is reported even when its metadata JSON is fine.
    """
    root = Path(root)
    videos_dir = root / "videos"
    if not videos_dir.is_dir():
        raise FileNotFoundError(
            f"{videos_dir}: not found; expected the MVK layout "
            "<root>/videos/<Site_MonYYYY>/NNNN.mp4"
        )
    rows, problems = [], []
    for site_dir in sorted(
        p for p in videos_dir.iterdir() if not p.name.startswith(".")
    ):
        if not site_dir.is_dir():
            problems.append((str(site_dir), "not a folder (expected videos/<site>/)"))
            continue
        try:
            parse_site_name(site_dir.name)
        except ValueError as exc:
            problems.append((str(site_dir), str(exc)))
            continue
        for video in sorted(
            p for p in site_dir.iterdir() if not p.name.startswith(".")
        ):
            if not VIDEO_RE.match(video.name):
                problems.append((str(video), "expected a video named NNNN.mp4"))
                continue
            meta: Path | None = (
                root / "information" / "metadata" / site_dir.name / f"{video.stem}.json"
            )
            try:
                fields = read_metadata(meta)
                for key, value in fields.get("invalid", {}).items():
                    problems.append(
                        (
                            str(meta),
                            f"{key}: expected a positive number, got {value!r} "
                            "(value probed from the mp4)",
                        )
                    )
            except (ValueError, OSError) as exc:  # missing or malformed: probe instead
                problems.append(
                    (str(meta), f"{_reason(exc, meta)} (values probed from the mp4)")
                )
                meta = None
            try:
                if check_videos:
                    # an empty, corrupt or truncated mp4 is a problem even with JSON
                    probed = probe_video(video)
                    claimed = probed["index_frames"]
                    if claimed and claimed != probed["num_frames"]:
                        problems.append(
                            (
                                str(video),
                                f"truncated: the index claims {claimed} frames, "
                                f"{probed['num_frames']} decode",
                            )
                        )
                info = video_info(video, meta, probe=probe if meta else "missing")
            except (ValueError, OSError) as exc:
                problems.append((str(video), _reason(exc, video)))
                continue
            rows.append(
                {
                    **{k: v for k, v in info.__dict__.items() if k != "source"},
                    "video_path": str(video),
                }
            )
    videos = pd.DataFrame(rows)
    selected = _count_selected(root, problems)
    return CollectionStats(_summarise(videos, selected), videos, problems)


def _reason(exc: Exception, path: Path) -> str:
    """The error message without the leading path (the report prints it already)."""
    msg = str(exc)
    return msg[len(str(path)) + 2 :] if msg.startswith(f"{path}: ") else msg


def _count_selected(root: Path, problems: list) -> int:
    base = root / "information" / "selected_frames"
    if not base.is_dir():
        return 0
    n = 0
    for p in base.rglob("*"):
        if p.is_file() and not p.name.startswith("."):
            if FRAME_RE.match(p.name):
                n += 1
            else:
                problems.append(
                    (str(p), "expected a selected frame named NNNN_KKKKK.jpg")
                )
    return n


def _summarise(videos: pd.DataFrame, selected: int) -> dict:
    if videos.empty:
        return {"videos": 0, "dive_sites": 0, "selected_frames": selected}
    d = videos["duration"].dropna().astype(float)
    cameras = videos["camera"].fillna("unknown").value_counts()
    return {
        "videos": len(videos),
        "dive_sites": videos["site"].nunique(),
        "total_hours": round(d.sum() / 3600, 4),
        "duration_mean_s": round(d.mean(), 2),
        "duration_median_s": round(d.median(), 2),
        "duration_min_s": round(d.min(), 2),
        "duration_max_s": round(d.max(), 2),
        "selected_frames": selected,
        "cameras": cameras.to_dict(),
    }


def word_share(captions: pd.Series | list[str]) -> pd.Series:
    """Share (0..1) of captions that contain each word, sorted descending.

    Words are lower-case runs of letters; a word counts once per caption. Book: ch09.
    """
    captions = pd.Series(list(captions), dtype=object)
    if captions.empty:
        return pd.Series(dtype=float)
    words = captions.map(lambda c: set(re.findall(r"[a-z]+", str(c).lower())))
    counts = pd.Series([w for ws in words for w in ws]).value_counts()
    share = counts / len(captions)
    return share.sort_values(ascending=False, kind="stable")


def format_summary(stats: CollectionStats) -> str:
    """Human-readable report: the numbers, then one line per problem."""
    lines = [f"{k:>18}: {v}" for k, v in stats.summary.items() if k != "cameras"]
    for cam, n in stats.summary.get("cameras", {}).items():
        lines.append(f"{'camera':>18}: {cam} ({n} videos)")
    lines.append(f"{'problems':>18}: {len(stats.problems)}")
    lines += [f"  BAD {path}: {why}" for path, why in stats.problems]
    return "\n".join(lines)
