"""Preparing real data: an MVK-layout folder from raw videos, and DAVIS / YouTube-VOS checks.

:func:`prepare_mvk` turns a folder of raw dive videos into the MVK layout: the videos are
copied as ``videos/<site>/NNNN.mp4`` (in sorted name order), and for each one it writes
the selected frames (fixed rate and/or scene changes), one thumbnail per selected frame
with the frame's name (``thumbnails/<site>/NNNN_KKKKK.jpg``, as in the published MVK
tree) and a metadata JSON (probed with OpenCV, frame count verified by decoding). Each video's files are written atomically and the metadata JSON
last, so a rerun skips finished videos and resumes after an interruption.

:func:`check_davis` and :func:`check_youtube_vos` look at a downloaded DAVIS 2017 or
YouTube-VOS folder and return a list of what is missing or malformed, each with the
path and what was expected (an empty list means the folder looks usable).

Book: ch09 "The Marine Video Kit dataset" (section "With the real data"), ch07.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
from PIL import Image
from tqdm.auto import tqdm

from mvk_tutorial.mvk.frames import (
    extract_frames,
    make_thumbnail,
    select_frames,
    write_image,
)
from mvk_tutorial.mvk.layout import parse_site_name, probe_video
from mvk_tutorial.utils import atomic_path, atomic_write

RAW_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv")


def _raw_sites(raw: Path, site: str | None) -> dict[str, list[Path]]:
    subdirs = sorted(
        p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if site is None:
        if not subdirs:
            raise ValueError(
                f"{raw}: no site sub-folders; pass site='<Site>_<MonYYYY>'"
            )
        for d in subdirs:
            parse_site_name(d.name)  # ValueError names the bad folder
        groups = {
            d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in RAW_SUFFIXES)
            for d in subdirs
        }
    else:
        parse_site_name(site)
        groups = {
            site: sorted(p for p in raw.iterdir() if p.suffix.lower() in RAW_SUFFIXES)
        }
    if not any(groups.values()):
        raise ValueError(
            f"{raw}: no videos found (expected files ending in {RAW_SUFFIXES})"
        )
    return groups


def prepare_mvk(
    raw: str | Path,
    out: str | Path,
    site: str | None = None,
    every_s: float | None = 1.0,
    scene_threshold: float | None = 0.35,
    camera: str | None = None,
    thumb_width: int = 160,
    progress: bool = True,
) -> list[Path]:
    """Write the MVK layout for the raw videos of ``raw`` under ``out``; return metadata paths.

    ``raw`` holds either one folder per site (``<Site>_<MonYYYY>``) or, with ``site``,
    the videos of that one site. Every video is probed first, so a corrupt file stops
    the run before anything of it is written (``ValueError`` naming it). Book: ch09.
    """
    raw, out = Path(raw), Path(out)
    if not raw.is_dir():
        raise NotADirectoryError(f"{raw}: expected a folder of raw videos")
    groups = _raw_sites(raw, site)
    jobs = [(s, i + 1, p) for s, paths in groups.items() for i, p in enumerate(paths)]
    probes = {p: probe_video(p) for _, _, p in jobs}
    written = []
    for s, number, src in tqdm(jobs, desc="videos", disable=not progress or None):
        video = f"{number:04d}"
        meta_path = out / "information" / "metadata" / s / f"{video}.json"
        written.append(meta_path)
        if meta_path.is_file():  # finished by an earlier run
            continue
        dst = out / "videos" / s / f"{video}.mp4"
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        chosen = select_frames(dst, every_s=every_s, scene_threshold=scene_threshold)
        frames = extract_frames(
            dst, chosen, out / "information" / "selected_frames" / s
        )
        for frame in frames:  # one thumbnail per selected frame, same name
            write_image(
                out / "information" / "thumbnails" / s / frame.name,
                make_thumbnail(cv2.imread(str(frame)), thumb_width),
            )
        info = probes[src]
        meta = {
            "site": s,
            "date": parse_site_name(s).date,
            "video": video,
            "source_file": src.name,
            "duration": info["duration"],
            "fps": info["fps"],
            "num_frames": info["num_frames"],
            "width": info["width"],
            "height": info["height"],
            "camera": camera,
            "selected_frames": chosen,
        }
        atomic_write(meta_path, json.dumps(meta, indent=1))
    return written


def _check_split_dirs(
    root: Path, images: Path, annotations: Path, seqs: list[str], problems: list[str]
) -> None:
    for seq in seqs:
        jpgs = sorted((images / seq).glob("*.jpg")) if (images / seq).is_dir() else []
        if not jpgs:
            problems.append(f"{images / seq}: missing or has no .jpg frames")
            continue
        pngs = (
            sorted((annotations / seq).glob("*.png"))
            if (annotations / seq).is_dir()
            else []
        )
        if not pngs:
            problems.append(
                f"{annotations / seq}: missing or has no .png masks "
                "(the first frame's mask is needed for semi-supervised VOS)"
            )
            continue
        if pngs[0].stem != jpgs[0].stem:
            problems.append(
                f"{annotations / seq}: first mask {pngs[0].name} does not match "
                f"first frame {jpgs[0].name}"
            )
        with Image.open(pngs[0]) as im:
            if im.mode != "P":
                problems.append(
                    f"{pngs[0]}: expected a palette (P) PNG of object ids, "
                    f"got mode {im.mode}"
                )


def check_davis(
    root: str | Path, resolution: str = "480p", year: str = "2017"
) -> list[str]:
    """Problems of a DAVIS folder (``root`` holds ``JPEGImages``...; [] if usable)."""
    root = Path(root)
    problems: list[str] = []
    images, annotations = (
        root / "JPEGImages" / resolution,
        root / "Annotations" / resolution,
    )
    sets = root / "ImageSets" / year
    for d in (images, annotations, sets):
        if not d.is_dir():
            problems.append(
                f"{d}: missing folder (DAVIS layout: JPEGImages/{resolution}, "
                f"Annotations/{resolution}, ImageSets/{year})"
            )
    if problems:
        return problems
    splits = [sets / s for s in ("train.txt", "val.txt") if (sets / s).is_file()]
    if not splits:
        return [f"{sets}: no train.txt or val.txt (split files, one sequence per line)"]
    seqs = [seq for path in splits for seq in path.read_text(encoding="utf-8").split()]
    _check_split_dirs(root, images, annotations, sorted(set(seqs)), problems)
    return problems


def check_youtube_vos(root: str | Path, split: str = "valid") -> list[str]:
    """Problems of a YouTube-VOS split folder (``root/<split>/{JPEGImages,Annotations,meta.json}``)."""
    base = Path(root) / split
    problems: list[str] = []
    meta_path = base / "meta.json"
    if not meta_path.is_file():
        return [
            f"{meta_path}: missing (YouTube-VOS lists objects and frames in meta.json)"
        ]
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        seqs = sorted(meta["videos"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return [f"{meta_path}: malformed, expected {{'videos': {{seq: ...}}}} ({exc})"]
    _check_split_dirs(base, base / "JPEGImages", base / "Annotations", seqs, problems)
    return problems
