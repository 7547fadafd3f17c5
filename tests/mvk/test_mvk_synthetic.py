"""MVK-mini generator: layout, determinism, masks vs drawing, captions vs scene, atomicity."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from mvk_tutorial.mvk import synthetic, writer
from mvk_tutorial.mvk.captions import NUMBER_WORDS
from mvk_tutorial.mvk.labels import davis_palette
from mvk_tutorial.mvk.render import (
    draw_objects,
    object_mask,
    render_background,
    render_frame,
)
from mvk_tutorial.mvk.scene import ANIMALS, BACKGROUNDS, CLASSES, sample_scene
from mvk_tutorial.mvk.synthetic import (
    MiniConfig,
    ensure_mvk_mini,
    generate_mvk_mini,
    load_captions,
    load_frame_labels,
    load_objects,
    read_mask,
)

TINY = MiniConfig(
    sites=2,
    videos_per_site=2,
    min_frames=5,
    max_frames=7,
    height=64,
    width=96,
    select_every=3,
    max_objects=3,
)


def _digest(root: Path) -> dict[str, str]:
    """sha256 of every file except the videos (mp4 containers are compared decoded)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".mp4"
    }


def test_same_seed_same_collection_other_seed_differs(tmp_path):
    a = generate_mvk_mini(tmp_path / "a", TINY, progress=False)
    b = generate_mvk_mini(tmp_path / "b", TINY, progress=False)
    c = generate_mvk_mini(
        tmp_path / "c", MiniConfig(**{**TINY.__dict__, "seed": 1}), progress=False
    )
    da, db, dc = _digest(a), _digest(b), _digest(c)
    assert da == db
    assert da != dc


def test_layout_files_and_names(mini_root):
    root = mini_root
    manifest = json.loads((root / "mvk_mini.json").read_text())
    cfg = synthetic.PRESETS["test"]
    assert manifest["generator_version"] == synthetic.GENERATOR_VERSION
    assert manifest["classes"] == list(CLASSES)
    assert root.name == f"mvk_mini_test_g{synthetic.GENERATOR_VERSION}"
    sites = sorted(p.name for p in (root / "videos").iterdir())
    assert len(sites) == cfg.sites
    for site in sites:
        assert re.fullmatch(
            r"[A-Za-z0-9]+_(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\d{4}", site
        )
        videos = sorted((root / "videos" / site).glob("*.mp4"))
        assert [v.name for v in videos] == [
            f"{i:04d}.mp4" for i in range(1, cfg.videos_per_site + 1)
        ]
        for v in videos:
            meta = json.loads(
                (root / "information/metadata" / site / f"{v.stem}.json").read_text()
            )
            assert meta["site"] == site and meta["video"] == v.stem
            # one thumbnail per selected frame, named like it (the published MVK tree)
            thumbs = sorted((root / "information/thumbnails" / site).glob(f"{v.stem}_*.jpg"))
            assert [t.name for t in thumbs] == [
                f"{v.stem}_{k:05d}.jpg" for k in meta["selected_frames"]
            ]
            cap = cv2.VideoCapture(str(v))
            n = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                assert frame.shape == (cfg.height, cfg.width, 3)
                n += 1
            assert n == meta["num_frames"]
            assert abs(meta["duration"] - n / meta["fps"]) < 1e-3
            for k in meta["selected_frames"]:
                assert (
                    root
                    / "information/selected_frames"
                    / site
                    / f"{v.stem}_{k:05d}.jpg"
                ).is_file()
            jpgs = sorted(
                (root / "DAVIS/JPEGImages/480p" / f"{site}_{v.stem}").glob("*.jpg")
            )
            assert [p.name for p in jpgs] == [f"{t:05d}.jpg" for t in range(n)]


def test_davis_annotations_palette_ids_and_splits(mini_root):
    davis = mini_root / "DAVIS"
    train = (davis / "ImageSets/2017/train.txt").read_text().split()
    val = (davis / "ImageSets/2017/val.txt").read_text().split()
    seqs = sorted(p.name for p in (davis / "JPEGImages/480p").iterdir())
    assert sorted(train + val) == seqs and not set(train) & set(val) and val
    meta = json.loads((davis / "meta.json").read_text())["videos"]
    objects = load_objects(mini_root)
    for seq in seqs:
        k = int((objects["seq"] == seq).sum())
        pngs = sorted((davis / "Annotations/480p" / seq).glob("*.png"))
        frames_of = {str(i): [] for i in range(1, k + 1)}
        for p in pngs:
            with Image.open(p) as im:
                assert im.mode == "P"
                assert im.getpalette()[:30] == davis_palette()[:30]
                ids = np.array(im)
            assert set(np.unique(ids)) <= set(range(k + 1))
            for i in np.unique(ids[ids > 0]):
                frames_of[str(i)].append(p.stem)
        if seq in val:  # semi-supervised DAVIS: every object is in the first mask
            first = read_mask(pngs[0])
            assert set(np.unique(first)) == set(range(k + 1))
        for obj_id, entry in meta[seq]["objects"].items():
            assert set(entry["frames"]) <= set(frames_of[obj_id])  # visible => drawn
            assert entry["category"] in CLASSES[1:]


def test_semantic_masks_match_instances_and_classes(mini_root):
    labels = load_frame_labels(mini_root)
    objects = load_objects(mini_root)
    for _, row in labels.sample(12, random_state=0).iterrows():
        inst = read_mask(row["annotation_path"])
        sem = read_mask(row["semantic_path"])
        lut = np.zeros(256, np.uint8)
        for _, o in objects[objects["seq"] == row["seq"]].iterrows():
            lut[o["obj_id"]] = o["class_id"]
        np.testing.assert_array_equal(sem, lut[inst])
        areas = {c: int((sem == i).sum()) for i, c in enumerate(CLASSES) if i}
        assert set(row["present"]) <= {c for c, a in areas.items() if a > 0}
        if row["present"]:
            assert row["main_class"] == max(row["present"], key=areas.get)


def test_masks_are_exactly_the_drawn_pixels_after_occlusion():
    for seed in range(4):
        scene = sample_scene(np.random.default_rng(seed), 96, 160, 10, max_objects=4)
        bg = render_background(scene)
        for t in (0, 5, 9):
            frame = render_frame(scene, t, bg, effects=False)
            empty = render_frame(
                type(scene)(**{**scene.__dict__, "objects": []}), t, bg, effects=False
            )
            changed = np.any(frame.bgr != empty.bgr, axis=2)
            agree = np.mean(changed == (frame.instance_ids > 0))
            assert agree > 0.995, (
                agree
            )  # an object pixel may equal the seabed by chance
            assert not np.any(changed & (frame.instance_ids == 0))
            # Painter's algorithm from each object's own silhouette, far to near.
            expected = np.zeros_like(frame.instance_ids)
            for obj in sorted(scene.objects, key=lambda o: -o.depth):
                expected[object_mask(scene, obj.obj_id, t)] = obj.obj_id
            np.testing.assert_array_equal(frame.instance_ids, expected)
            assert np.array_equal(draw_objects(scene, t), frame.instance_ids)


def _visible_counts(inst: np.ndarray, objs) -> dict[str, int]:
    h, w = inst.shape
    counts = np.bincount(inst.ravel(), minlength=256)
    threshold = max(16, int(np.ceil(0.001 * h * w)))
    out: dict[str, int] = {}
    for _, o in objs.iterrows():
        if counts[o["obj_id"]] >= threshold:
            out[o["class_name"]] = out.get(o["class_name"], 0) + 1
    return out


def test_captions_describe_the_visible_objects(mini_root):
    caps = load_captions(mini_root)
    objects = load_objects(mini_root)
    automatic_words = {"fish", "diver", "shark", "turtle", "jellyfish", "reef", "ocean"}
    for _, row in caps.iterrows():
        inst = read_mask(
            mini_root
            / "DAVIS/Annotations/480p"
            / row["seq"]
            / f"{row['frame_index']:05d}.png"
        )
        counts = _visible_counts(inst, objects[objects["seq"] == row["seq"]])
        meta = json.loads(
            (
                mini_root
                / "information/metadata"
                / row["site"]
                / f"{row['video']}.json"
            ).read_text()
        )
        expert = row["expert"].lower()
        for animal in ANIMALS:
            n = counts.get(animal.name, 0)
            name = animal.name if n == 1 else animal.plural
            pattern = f"{NUMBER_WORDS[n]} {animal.colour} {name} " if n else None
            if n:
                assert pattern in expert, (pattern, expert)
            else:
                assert f" {animal.colour} {animal.name}" not in expert
        assert BACKGROUNDS[meta["background"]] in expert and meta["water"] in expert
        assert (
            row["automatic"].endswith(".")
            and set(row["automatic"][:-1].split()) & automatic_words
        )
        assert (
            not any(ch.isdigit() for ch in row["novice"])
            and len(row["novice"].split()) <= 10
        )
        assert not any(w in row["novice"] for w in NUMBER_WORDS[2:])


def test_ensure_reuses_cache_and_rejects_bad_preset(mini_root):
    before = (mini_root / "mvk_mini.json").stat().st_mtime_ns
    again = ensure_mvk_mini("test", root=mini_root.parent)
    assert (
        again == mini_root
        and (mini_root / "mvk_mini.json").stat().st_mtime_ns == before
    )
    with pytest.raises(ValueError, match="preset"):
        ensure_mvk_mini("huge", root=mini_root.parent)


def test_failure_leaves_no_partial_output(tmp_path, monkeypatch):
    calls = []

    def broken(root, config, s, v, camera):
        calls.append(v)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real(root, config, s, v, camera)

    real = writer.write_video
    monkeypatch.setattr(writer, "write_video", broken)
    with pytest.raises(OSError, match="simulated"):
        generate_mvk_mini(tmp_path / "out", TINY, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_out_exists_and_bad_config(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        generate_mvk_mini(tmp_path / "taken", TINY, progress=False)
    with pytest.raises(ValueError, match="sites"):
        generate_mvk_mini(tmp_path / "x", MiniConfig(sites=0), progress=False)
    with pytest.raises(ValueError, match="size"):
        generate_mvk_mini(tmp_path / "x", MiniConfig(height=31), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_lost_race_returns_the_winner(tmp_path, monkeypatch):
    real = writer.write_collection
    done = []

    def slow(root, config, progress=True, workers=1):
        real(root, config, progress)
        if not done:  # the "other process" finishes first
            done.append(True)
            generate_mvk_mini(tmp_path / "out", TINY, progress=False)

    monkeypatch.setattr(writer, "write_collection", slow)
    out = generate_mvk_mini(tmp_path / "out", TINY, progress=False, exist_ok=True)
    assert out == tmp_path / "out" and (out / "mvk_mini.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.slow
def test_two_workers_write_the_same_collection(tmp_path):
    one = generate_mvk_mini(tmp_path / "one", TINY, progress=False)
    two = generate_mvk_mini(tmp_path / "two", TINY, progress=False, workers=2)
    assert _digest(one) == _digest(two)


def test_some_train_objects_enter_after_frame_0(tmp_path):
    """v6: YouTube-VOS needs objects whose first mask comes after frame 0.

    Checked against the annotation PNGs themselves (an independent reading of what was
    drawn), not against meta.json: an id absent from frame 0 but present later.
    """
    from dataclasses import replace

    from mvk_tutorial.mvk.labels import read_mask

    config = replace(synthetic.PRESETS["test"], sites=2, videos_per_site=6)
    root = generate_mvk_mini(tmp_path / "late", config, progress=False)
    late = 0
    for seq in (root / "DAVIS/ImageSets/2017/train.txt").read_text().split():
        pngs = sorted((root / "DAVIS/Annotations/480p" / seq).glob("*.png"))
        first = set(np.unique(read_mask(pngs[0]))) - {0}
        later = set().union(*(set(np.unique(read_mask(p))) for p in pngs[1:])) - {0}
        late += bool(later - first)
    assert late >= 1
    meta = json.loads((root / "DAVIS/meta.json").read_text())["videos"]
    assert any(
        min(o["frames"]) != "00000" for v in meta.values() for o in v["objects"].values()
    )
