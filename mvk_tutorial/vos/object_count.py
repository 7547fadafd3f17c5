"""The object-count study: J&F as the number of objects per video grows.

The DeAOT paper asks how identification copes with many objects: one pass propagates
up to ``max_obj_num`` (10) identities at once, beyond that the engine runs groups of 10
that share the encoder. This module makes MVK-mini videos with exactly N objects (the
generator's scenes, renderer and JPEG quality, every object visible in frame 0, as in
the ``val`` split), writes them in the DAVIS layout, and scores a network on them with
the package's evaluation (``train_eval.evaluate_model``: official input size, chapter
7's J&F).

Book: ch08, section "How many objects?".
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from mvk_tutorial.mvk.captions import visible_objects
from mvk_tutorial.mvk.render import noise_bank, render_background, render_frame
from mvk_tutorial.mvk.scene import CLASSES, sample_object, sample_scene
from mvk_tutorial.mvk.synthetic import GENERATOR_VERSION
from mvk_tutorial.mvk.writer import JPEG_QUALITY, _imwrite
from mvk_tutorial.utils import atomic_path, atomic_write
from mvk_tutorial.vos.data import write_mask
from mvk_tutorial.vos.train_eval import evaluate_model

SEED_BASE = 14  # generator streams of this study: (seed, n_objects, video, SEED_BASE)


def object_count_scene(
    n_objects: int,
    video: int = 0,
    seed: int = 0,
    num_frames: int = 24,
    height: int = 256,
    width: int = 448,
):
    """A scene of MVK-mini's generator with exactly ``n_objects`` animals, all visible
    in frame 0 (at most 100 draws). Book: ch08, section "How many objects?"."""
    if not 1 <= n_objects <= 254:
        raise ValueError(f"n_objects: expected 1..254, got {n_objects}")
    rng = np.random.default_rng([seed, n_objects, video, SEED_BASE])
    for _ in range(100):
        base = sample_scene(rng, height, width, num_frames, 24.0, 1, start_inside=True)
        main = base.objects[0].class_id
        objects = [base.objects[0]]
        for k in range(1, n_objects):  # the generator's rule: repeat the main class 70%
            cls = main if rng.random() < 0.7 else int(rng.integers(1, len(CLASSES)))
            objects.append(
                sample_object(rng, k + 1, cls, height, width, num_frames, 24.0, True)
            )
        scene = replace(base, objects=objects)
        first = render_frame(scene, 0, effects=False)
        if len(visible_objects(scene, first.instance_ids)) == n_objects:
            return scene
    raise RuntimeError(
        f"could not sample a scene with {n_objects} objects all visible in frame 0"
    )


def write_object_count_set(
    out: str | Path,
    counts=(1, 3, 6, 10, 15),
    videos: int = 2,
    seed: int = 0,
    num_frames: int = 24,
) -> Path:
    """Write ``videos`` videos per object count into ``out`` (DAVIS layout, image set
    ``val``, sequences ``objNN_V``); returns the DAVIS root.

    Book: ch08, section "How many objects?".
    """
    root = Path(out)
    names = []
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    for n in counts:
        for v in range(videos):
            scene = object_count_scene(n, v, seed, num_frames)
            name = f"obj{n:02d}_{v}"
            names.append(name)
            img_dir = root / "JPEGImages" / "480p" / name
            img_dir.mkdir(parents=True, exist_ok=True)
            background, noise = render_background(scene), noise_bank(scene)
            for t in range(scene.num_frames):
                fr = render_frame(scene, t, background, noise)
                with atomic_path(img_dir / f"{t:05d}.jpg") as tmp:
                    _imwrite(tmp, fr.bgr, jpeg)
                write_mask(root / "Annotations" / "480p" / name / f"{t:05d}.png",
                           fr.instance_ids)
    atomic_write(root / "ImageSets" / "2017" / "val.txt", "\n".join(names) + "\n")
    info = {"counts": list(counts), "videos": videos, "seed": seed,
            "num_frames": num_frames, "generator_version": GENERATOR_VERSION}
    atomic_write(root / "object_count.json", json.dumps(info, indent=1))
    return root


def object_count_study(model, davis_root: str | Path, sequences=None) -> dict:
    """J&F per object count: ``{"per_count": {N: J&F mean over its videos' objects},
    "per_sequence": {...}, "fps": f}`` (``sequences``: a subset of the set's videos).

    Book: ch08, section "How many objects?"."""
    scores = evaluate_model(model, davis_root, "val", sequences=sequences)
    per_count: dict[int, list[float]] = {}
    for key, (j, f) in scores["per_object"].items():
        n = int(key.split("_")[0][3:])  # "obj06_1_3" -> 6
        per_count.setdefault(n, []).append((j + f) / 2)
    return {
        "per_count": {n: float(np.mean(v)) for n, v in sorted(per_count.items())},
        "per_sequence": scores["per_sequence"],
        "fps": scores["fps"],
        "frames": scores["frames"],
    }
