"""Writing an MVK-mini collection: every file listed in ``mvk_tutorial.mvk.synthetic``.

Each video gets its own generator seeded by ``(seed, site index, video index)``, so a
collection is the same whatever order or subset of videos is written, and a larger
collection extends a smaller one with the same seed.

Book: ch09 "The Marine Video Kit dataset" (section "MVK-mini, a procedural world").
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from mvk_tutorial.mvk.captions import frame_captions, frame_labels, visible_objects
from mvk_tutorial.mvk.labels import (
    CAPTIONS_CSV,
    FRAME_LABELS_CSV,
    MANIFEST,
    OBJECTS_CSV,
    write_palette_png,
)
from mvk_tutorial.mvk.layout import MONTHS
from mvk_tutorial.mvk.render import noise_bank, render_background, render_frame
from mvk_tutorial.mvk.scene import CLASSES, WATER_CASTS, Scene, sample_scene

JPEG_QUALITY = 90


def site_date(site: str) -> str:
    """``"Lanai_Jul2022"`` -> ``"2022-07"`` (the MVK folder naming convention)."""
    tail = site.rsplit("_", 1)[-1]
    return f"{tail[3:]}-{MONTHS.index(tail[:3]) + 1:02d}"


def split_of(video_index: int, videos_per_site: int) -> str:
    """``"val"`` for the last quarter of a site's videos (at least one of two or more)."""
    n_val = videos_per_site // 4 if videos_per_site >= 4 else int(videos_per_site >= 2)
    return "val" if video_index >= videos_per_site - n_val else "train"


def make_scene(config, site_index: int, video_index: int) -> tuple[Scene, str]:
    """The scene of one video and its DAVIS split (deterministic). Book: ch09.

    The scene's main class cycles through the classes along the videos of a site, so
    that every class is the main one equally often.
    """
    rng = np.random.default_rng([config.seed, site_index, video_index])
    num_frames = int(rng.integers(config.min_frames, config.max_frames + 1))
    split = split_of(video_index, config.videos_per_site)
    cast = list(WATER_CASTS)[site_index % len(WATER_CASTS)]
    main = 1 + (7 * site_index + video_index) % (len(CLASSES) - 1)  # balanced per site
    for _ in range(50):
        scene = sample_scene(
            rng,
            config.height,
            config.width,
            num_frames,
            config.fps,
            config.max_objects,
            start_inside=split == "val",
            cast=cast,
            main_class=main,
        )
        if split == "train":
            return _maybe_enter_late(scene, config, site_index, video_index), split
        first = render_frame(scene, 0, effects=False)
        if len(visible_objects(scene, first.instance_ids)) == len(scene.objects):
            return scene, split
    raise RuntimeError(
        "could not sample a val scene with every object visible in frame 0"
    )


def _maybe_enter_late(scene: Scene, config, site_index: int, video_index: int) -> Scene:
    """Make the last object of about half the multi-object train videos enter late.

    YouTube-VOS gives an object's first mask in the frame where it first appears, which
    may be after frame 0; MVK-mini needs such objects to test that path. The decision
    and the entry frame come from their own generator (``(seed, site, video, 6)``), so
    every other video is pixel-identical to generator v5. The chosen object starts
    fully outside the frame on the side it swims from and is fast enough to be visible
    from about a third of the video on. Book: ch07, section "YouTube-VOS".
    """
    rng = np.random.default_rng([config.seed, site_index, video_index, 6])
    if len(scene.objects) < 2 or rng.random() >= 0.5:
        return scene
    obj = scene.objects[-1]
    t_enter = float(rng.uniform(0.25, 0.45)) * scene.num_frames
    margin = 0.75 * obj.length + obj.ax  # fully hidden beyond this distance
    speed = max(abs(obj.vx), (margin + 0.5 * obj.length) / max(t_enter, 1.0))
    sign = 1.0 if obj.vx >= 0 else -1.0
    obj.vx = sign * speed
    # x(t_enter) = just inside the entry edge, so x(0) is beyond the margin
    edge = -0.1 * obj.length if sign > 0 else scene.width + 0.1 * obj.length
    obj.x0 = edge - obj.vx * t_enter - obj.ax * np.sin(obj.wx * t_enter + obj.px)
    return scene


def _imwrite(path: Path, img: np.ndarray, params: list[int] | None = None) -> None:
    if not cv2.imwrite(str(path), img, params or []):
        raise OSError(f"{path}: OpenCV could not write the image")


def _video_dirs(root: Path, site: str, seq: str) -> dict[str, Path]:
    """The folders one video writes into (created)."""
    dirs = {
        "video": root / "videos" / site,
        "meta": root / "information" / "metadata" / site,
        "sel": root / "information" / "selected_frames" / site,
        "thumb": root / "information" / "thumbnails" / site,
        "jpg": root / "DAVIS" / "JPEGImages" / "480p" / seq,
        "ann": root / "DAVIS" / "Annotations" / "480p" / seq,
        "sem": root / "labels" / "semantic" / seq,
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def _open_mp4(path: Path, config) -> cv2.VideoWriter:
    size = (config.width, config.height)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"mp4v"), config.fps, size
    )
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV could not open an mp4v video writer")
    return writer


def _label_row(ids: dict, root: Path, dirs: dict, t: int, labels: dict) -> dict:
    """One row of ``frame_labels.csv`` (without the captions)."""
    name = f"{t:05d}"
    row = {
        **ids,
        "frame_index": t,
        "selected": False,
        "frame_path": f"{dirs['jpg'].relative_to(root).as_posix()}/{name}.jpg",
        "annotation_path": f"{dirs['ann'].relative_to(root).as_posix()}/{name}.png",
        "semantic_path": f"{dirs['sem'].relative_to(root).as_posix()}/{name}.png",
        "main_class": labels["main_class"],
        "main_class_id": CLASSES.index(labels["main_class"]),
        "present": ";".join(labels["present"]),
        "num_visible": labels["num_visible"],
    }
    row.update({f"px_{c.replace(' ', '_')}": n for c, n in labels["pixels"].items()})
    return row


def _metadata(
    scene: Scene, config, ids: dict, camera: str, seen: dict, selected: list
) -> dict:
    """The per-video metadata JSON (fields listed in ``synthetic``'s docstring)."""
    site = ids["site"]
    present = sorted(
        {CLASSES[o.class_id] for o in scene.objects if seen[o.obj_id]},
        key=CLASSES.index,
    )
    return {
        "site": site,
        "location": site.rsplit("_", 1)[0],
        "date": site_date(site),
        "video": ids["video"],
        "duration": round(scene.num_frames / config.fps, 3),
        "fps": config.fps,
        "num_frames": scene.num_frames,
        "width": config.width,
        "height": config.height,
        "camera": camera,
        "classes": present,
        "selected_frames": selected,
        "split": ids["split"],
        "background": scene.background,
        "water": scene.cast,
    }


def _object_rows(scene: Scene, seq: str, seen: dict) -> tuple[list[dict], dict]:
    """Rows of ``objects.csv`` and the YouTube-VOS ``meta.json`` entry of one video."""
    rows = [
        {
            "seq": seq,
            "obj_id": o.obj_id,
            "class_name": CLASSES[o.class_id],
            "class_id": o.class_id,
            "first_frame": seen[o.obj_id][0] if seen[o.obj_id] else -1,
            "last_frame": seen[o.obj_id][-1] if seen[o.obj_id] else -1,
            "depth": round(o.depth, 4),
        }
        for o in scene.objects
    ]
    vos = {
        str(o.obj_id): {
            "category": CLASSES[o.class_id],
            "frames": [f"{t:05d}" for t in seen[o.obj_id]],
        }
        for o in scene.objects
        if seen[o.obj_id]
    }
    return rows, {"objects": vos}


def write_video(
    root: Path, config, site_index: int, video_index: int, camera: str
) -> dict:
    """Render and write one video with all its derived files; return its table rows."""
    from mvk_tutorial.mvk.synthetic import SITES

    scene, split = make_scene(config, site_index, video_index)
    site, video = SITES[site_index][0], f"{video_index + 1:04d}"
    ids = {"site": site, "video": video, "seq": f"{site}_{video}", "split": split}
    dirs = _video_dirs(root, site, ids["seq"])
    writer = _open_mp4(dirs["video"] / f"{video}.mp4", config)
    background, noise = render_background(scene), noise_bank(scene)
    frames, captions, seen = [], [], {o.obj_id: [] for o in scene.objects}
    selected = list(range(0, scene.num_frames, config.select_every))
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    for t in range(scene.num_frames):
        fr = render_frame(scene, t, background, noise)
        writer.write(fr.bgr)
        _imwrite(dirs["jpg"] / f"{t:05d}.jpg", fr.bgr, jpeg)
        write_palette_png(dirs["ann"] / f"{t:05d}.png", fr.instance_ids)
        _imwrite(dirs["sem"] / f"{t:05d}.png", fr.class_ids)
        visible = visible_objects(scene, fr.instance_ids)
        for v in visible:
            seen[v.obj_id].append(t)
        caps = frame_captions(scene, fr.instance_ids, t, visible)
        labels = frame_labels(scene, fr.instance_ids, visible)
        frames.append({**_label_row(ids, root, dirs, t, labels), **caps})
        if t in selected:
            frames[-1]["selected"] = True
            sel = dirs["sel"] / f"{video}_{t:05d}.jpg"
            _imwrite(sel, fr.bgr, jpeg)
            rel = sel.relative_to(root).as_posix()
            captions.append({**ids, "frame_index": t, "frame_path": rel, **caps})
            # one thumbnail per selected frame, named like it (the seed's MVK tree)
            th = round(config.thumb_width * config.height / config.width)
            thumb = cv2.resize(
                fr.bgr, (config.thumb_width, th), interpolation=cv2.INTER_AREA
            )
            _imwrite(dirs["thumb"] / f"{video}_{t:05d}.jpg", thumb, jpeg)
    writer.release()
    meta = _metadata(scene, config, ids, camera, seen, selected)
    (dirs["meta"] / f"{video}.json").write_text(
        json.dumps(meta, indent=1), encoding="utf-8"
    )
    objects, vos = _object_rows(scene, ids["seq"], seen)
    return {
        "frames": frames,
        "captions": captions,
        "objects": objects,
        "seq": ids["seq"],
        "split": split,
        "vos": vos,
    }


def _write_job(args: tuple) -> dict:
    from mvk_tutorial.mvk.synthetic import SITES

    root, config, s, v = args
    return write_video(root, config, s, v, SITES[s][1])


def write_collection(
    root: Path, config, progress: bool = True, workers: int = 1
) -> None:
    """Write every video of ``config`` and the collection-level files under ``root``.

    With ``workers > 1`` the videos are written by that many processes; the result is
    identical (each video has its own seed and the tables keep the video order).
    """
    root.mkdir(parents=True, exist_ok=False)
    jobs = [
        (root, config, s, v)
        for s in range(config.sites)
        for v in range(config.videos_per_site)
    ]
    bar = dict(total=len(jobs), desc="MVK-mini videos", disable=not progress or None)
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = list(tqdm(pool.map(_write_job, jobs), **bar))
    else:
        results = [_write_job(job) for job in tqdm(jobs, **bar)]
    frames = pd.DataFrame([r for res in results for r in res["frames"]])
    (root / "labels").mkdir(exist_ok=True)
    frames.to_csv(root / FRAME_LABELS_CSV, index=False)
    pd.DataFrame([r for res in results for r in res["captions"]]).to_csv(
        root / CAPTIONS_CSV, index=False
    )
    pd.DataFrame([r for res in results for r in res["objects"]]).to_csv(
        root / OBJECTS_CSV, index=False
    )
    sets = root / "DAVIS" / "ImageSets" / "2017"
    sets.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        names = [r["seq"] for r in results if r["split"] == split]
        (sets / f"{split}.txt").write_text(
            "".join(f"{n}\n" for n in names), encoding="utf-8"
        )
    meta = {"videos": {r["seq"]: r["vos"] for r in results}}
    (root / "DAVIS" / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    counts = {
        "videos": len(results),
        "frames": len(frames),
        "selected_frames": int(frames["selected"].sum()),
        "sites": config.sites,
    }
    (root / MANIFEST).write_text(json.dumps({"counts": counts}), encoding="utf-8")
