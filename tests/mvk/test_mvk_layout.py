"""Readers of the MVK layout, frame selection, statistics and the ``mvk data`` CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from mvk_tutorial.cli import main
from mvk_tutorial.mvk.frames import (
    extract_frames,
    make_thumbnail,
    select_fixed_rate,
    select_frames,
    select_scene_changes,
)
from mvk_tutorial.mvk.layout import (
    list_selected_frames,
    list_sites,
    list_videos,
    parse_site_name,
    probe_video,
    read_metadata,
    video_info,
)
from mvk_tutorial.mvk.stats import collection_stats, word_share
from mvk_tutorial.mvk.synthetic import MiniConfig, generate_mvk_mini, load_captions

TINY = MiniConfig(
    sites=2,
    videos_per_site=2,
    min_frames=6,
    max_frames=8,
    height=64,
    width=96,
    select_every=3,
    max_objects=2,
)


def write_mp4(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()
    return path


def solid(colour, n, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    base = np.zeros((h, w, 3), np.int16) + np.array(colour, np.int16)
    return [
        np.clip(base + rng.integers(-3, 4, (h, w, 3)), 0, 255).astype(np.uint8)
        for _ in range(n)
    ]


def test_parse_site_name():
    s = parse_site_name("Tulamben1_Jun2022")
    assert (s.location, s.year, s.month, s.date) == ("Tulamben1", 2022, 6, "2022-06")
    for bad in ("Lanai", "Lanai_July2022", "Lanai_Jul22", "_Jul2022", "Lanai Jul2022"):
        with pytest.raises(ValueError, match="<Site>_<MonYYYY>"):
            parse_site_name(bad)


def test_read_metadata_is_defensive(tmp_path):
    p = tmp_path / "0001.json"
    p.write_text(
        json.dumps(
            {
                "frame_rate": "29.97",
                "resolution": "1920x1080",
                "camera_model": "GoPro",
                "duration": "abc",
                "gps": [1, 2],
            }
        )
    )
    m = read_metadata(p)
    assert m["fps"] == pytest.approx(29.97) and (m["width"], m["height"]) == (
        1920,
        1080,
    )
    assert (
        m["camera"] == "GoPro" and "duration" not in m and m["extra"] == {"gps": [1, 2]}
    )
    assert m["invalid"] == {"duration": "abc"}  # reported, not silently dropped
    p.write_text("{}")
    assert read_metadata(p) == {"extra": {}}
    p.write_text('{"fps": 30,')
    with pytest.raises(ValueError, match=r"0001\.json: malformed JSON at line 1"):
        read_metadata(p)
    p.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        read_metadata(p)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        read_metadata(tmp_path / "missing.json")


def test_probe_video_and_bad_files(tmp_path):
    p = write_mp4(
        tmp_path / "Lanai_Jul2022" / "0001.mp4", solid((200, 0, 0), 12), fps=10
    )
    info = probe_video(p)
    assert (info["num_frames"], info["width"], info["height"]) == (12, 64, 48)
    assert info["fps"] == pytest.approx(10) and info["duration"] == pytest.approx(1.2)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.mp4: empty video file"):
        probe_video(empty)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ValueError, match=r"corrupt\.mp4: not an mp4"):
        probe_video(corrupt)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(
        p.read_bytes()[: p.stat().st_size // 2]
    )  # cut short: no index
    with pytest.raises(ValueError, match=r"truncated\.mp4: OpenCV cannot decode"):
        probe_video(truncated)
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        probe_video(tmp_path / "nope.mp4")


def test_video_info_merges_json_and_probe(tmp_path):
    p = write_mp4(tmp_path / "Lanai_Jul2022" / "0003.mp4", solid((0, 200, 0), 8), fps=8)
    meta = tmp_path / "0003.json"
    meta.write_text(json.dumps({"fps": 25, "camera": "Sony"}))
    info = video_info(p, meta)
    assert (info.site, info.video, info.date) == ("Lanai_Jul2022", "0003", "2022-07")
    assert info.fps == 25 and info.source["fps"] == "metadata" and info.camera == "Sony"
    assert info.num_frames == 8 and info.source["num_frames"] == "probe"
    assert video_info(p, meta, probe="always").fps == pytest.approx(8)
    bare = video_info(p, None, probe="never")
    assert bare.fps is None and bare.duration is None
    assert video_info(p, tmp_path / "absent.json").duration == pytest.approx(1.0)
    bad = write_mp4(tmp_path / "NotASite" / "0001.mp4", solid((0, 0, 0), 2))
    with pytest.raises(ValueError, match="NotASite"):
        video_info(bad)


def test_listing_readers_on_mvk_mini(mini_root, tmp_path):
    videos = list_videos(mini_root)
    assert len(videos) == 4 and videos["has_metadata"].all()
    frames = list_selected_frames(mini_root)
    expected = sum(
        len(json.loads(Path(m).read_text())["selected_frames"])
        for m in videos["metadata_path"]
    )
    assert len(frames) == expected == len(load_captions(mini_root))
    copy = tmp_path / "c"
    shutil.copytree(mini_root / "videos", copy / "videos")
    (copy / "videos" / "not_a_site").mkdir()
    with pytest.raises(ValueError, match="not_a_site"):
        list_sites(copy)
    assert len(list_sites(copy, strict=False)) == 2
    with pytest.raises(FileNotFoundError, match="videos"):
        list_sites(tmp_path / "nothing")


def test_fixed_rate_matches_nearest_timestamps():
    for num_frames, fps, every in (
        (95, 30.0, 1.0),
        (300, 29.97, 1.0),
        (50, 24.0, 0.5),
        (7, 10, 1),
    ):
        expected = []
        k = 0
        while True:  # brute force: the frame whose timestamp is nearest to k * every
            t = min(range(num_frames), key=lambda i: (abs(i / fps - k * every), i))
            if abs(t / fps - k * every) > 0.5 / fps:
                break
            expected.append(t)
            k += 1
        assert select_fixed_rate(num_frames, fps, every) == expected
    with pytest.raises(ValueError):
        select_fixed_rate(10, 0, 1)


def test_scene_changes_found_at_cuts(tmp_path):
    frames = (
        solid((200, 50, 0), 10)
        + solid((0, 40, 220), 10, seed=1)
        + solid((20, 200, 20), 3, seed=2)
    )
    assert select_scene_changes(frames) == [0, 10, 20]
    assert select_scene_changes(frames, min_gap=11) == [0, 20]
    p = write_mp4(tmp_path / "Oahu_Jul2022" / "0001.mp4", frames, fps=10)
    assert select_frames(p, every_s=None, scene_threshold=0.35) == [0, 10, 20]
    assert select_frames(p, every_s=1.0, scene_threshold=0.35) == [0, 10, 20]
    assert select_frames(p, every_s=0.5) == [0, 5, 10, 15, 20]
    written = extract_frames(p, [0, 10], tmp_path / "sel")
    assert [w.name for w in written] == ["0001_00000.jpg", "0001_00010.jpg"]
    assert not list((tmp_path / "sel").glob(".*"))
    assert make_thumbnail(frames[0], width=32).shape == (24, 32, 3)


def test_word_share_counts_each_word_once_per_caption():
    share = word_share(["a fish.", "A reef with fish fish", "the reef"])
    assert share["a"] == pytest.approx(2 / 3) and share["fish"] == pytest.approx(2 / 3)
    assert share["the"] == pytest.approx(1 / 3) and share.index[0] in {
        "a",
        "fish",
        "reef",
    }
    assert list(share.values) == sorted(share.values, reverse=True) and share.max() <= 1


def test_stats_on_mvk_mini_and_bad_files(tmp_path):
    root = generate_mvk_mini(tmp_path / "mini", TINY, progress=False)
    stats = collection_stats(root)
    metas = [
        json.loads(p.read_text())
        for p in sorted((root / "information/metadata").rglob("*.json"))
    ]
    durations = np.array([m["num_frames"] / m["fps"] for m in metas])
    s = stats.summary
    assert s["videos"] == 4 and s["dive_sites"] == 2 and not stats.problems
    assert s["duration_median_s"] == pytest.approx(np.median(durations), abs=0.01)
    assert s["duration_max_s"] == pytest.approx(durations.max(), abs=0.01)
    assert s["selected_frames"] == sum(len(m["selected_frames"]) for m in metas)
    site = sorted((root / "videos").iterdir())[0]
    (site / "0007.mp4").write_bytes(b"")
    (site / "0008.mp4").write_bytes(b"not a video at all" * 100)
    (root / "information/metadata" / site.name / "0001.json").write_text("{oops")
    (root / "information/metadata" / site.name / "0002.json").unlink()
    (root / "videos" / "bad folder").mkdir()
    stats = collection_stats(root)
    bad = {Path(p).name: why for p, why in stats.problems}
    assert "empty" in bad["0007.mp4"] and "not an mp4" in bad["0008.mp4"]
    assert "malformed JSON" in bad["0001.json"] and "not found" in bad["0002.json"]
    assert "<Site>_<MonYYYY>" in bad["bad folder"]
    assert (
        stats.summary["videos"] == 4
    )  # the two readable videos with bad JSON are probed


def test_cli_synth_and_stats(tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(out),
                "--preset",
                "test",
                "--sites",
                "1",
                "--videos-per-site",
                "2",
                "--seed",
                "3",
                "--frames",
                "4",
                "5",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["Lanai_Jul2022"]
    assert main(["data", "stats", str(out)]) == 0
    assert "videos: 2" in capsys.readouterr().out
    assert main(["data", "synth", "--out", str(out), "--preset", "test"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["data", "synth", "--out", str(tmp_path / "x"), "--sites", "99"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli"]
    (out / "videos" / "Lanai_Jul2022" / "0001.mp4").write_bytes(b"")
    assert main(["data", "stats", str(out)]) == 1
    assert "BAD" in capsys.readouterr().out
    assert main(["data", "stats", str(tmp_path / "missing")]) == 2
