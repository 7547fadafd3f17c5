"""MVK layout readers: truncated videos, bad metadata, non-UTF-8 paths, thumbnails."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "mp4tools", Path(__file__).with_name("mp4tools.py")
)
mp4tools = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mp4tools)


@pytest.fixture
def truncated(tmp_path):
    whole = mp4tools.write_mp4(tmp_path / "whole.mp4", frames=51)
    cut = mp4tools.faststart(whole, tmp_path / "cut.mp4")
    return mp4tools.truncate(cut, 0.3)


def test_truncated_front_index_mp4_is_counted_by_decoding(truncated, tmp_path):
    import cv2

    from mvk_tutorial.mvk.layout import probe_video

    cap = cv2.VideoCapture(str(truncated))
    claimed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    decodable = 0
    while cap.read()[0]:
        decodable += 1
    cap.release()
    assert claimed == 51 and decodable < 51  # the trap: the index lies
    info = probe_video(truncated)
    assert info["num_frames"] == decodable and info["index_frames"] == 51
    assert info["duration"] == pytest.approx(decodable / 25.0)
    whole = probe_video(mp4tools.faststart(tmp_path / "whole.mp4", tmp_path / "fs.mp4"))
    assert whole["num_frames"] == 51  # an intact front-index file is trusted


def test_prepare_mvk_writes_the_decodable_duration(truncated, tmp_path):
    from mvk_tutorial.mvk.prepare import prepare_mvk

    raw = tmp_path / "raw" / "Oahu_Jul2022"
    raw.mkdir(parents=True)
    (raw / "GX01.mp4").write_bytes(truncated.read_bytes())
    (meta,) = prepare_mvk(tmp_path / "raw", tmp_path / "mvk", progress=False,
                          scene_threshold=None)
    m = json.loads(meta.read_text())
    assert m["num_frames"] < 51 and m["duration"] == pytest.approx(m["num_frames"] / 25)


def _collection(tmp_path: Path, meta: dict) -> Path:
    root = tmp_path / "mvk"
    v = root / "videos" / "Oahu_Jul2022"
    v.mkdir(parents=True)
    mp4tools.write_mp4(v / "0001.mp4", frames=10)
    md = root / "information" / "metadata" / "Oahu_Jul2022"
    md.mkdir(parents=True)
    (md / "0001.json").write_text(json.dumps(meta))
    return root


@pytest.mark.parametrize(
    "meta, field",
    [({"duration": "long", "fps": 25}, "duration"), ({"fps": -5}, "fps"),
     ({"num_frames": "NaN"}, "num_frames"), ({"width": True}, "width")],
)
def test_invalid_metadata_values_are_reported(tmp_path, meta, field):
    from mvk_tutorial.mvk.stats import collection_stats

    st = collection_stats(_collection(tmp_path, meta))
    msgs = [f"{p}: {m}" for p, m in st.problems]
    assert any("0001.json" in m and f"{field}: expected a positive number" in m
               for m in msgs), msgs


def test_truncated_video_is_a_problem_in_stats(truncated, tmp_path):
    from mvk_tutorial.mvk.stats import collection_stats

    root = _collection(tmp_path, {"fps": 25})
    (root / "videos/Oahu_Jul2022/0001.mp4").write_bytes(truncated.read_bytes())
    st = collection_stats(root)
    assert any("truncated: the index claims 51 frames" in m for _, m in st.problems)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX byte file names")
def test_non_utf8_root_does_not_crash_data_stats(tmp_path):
    good = _collection(tmp_path, {"fps": 25})
    bad = os.path.join(os.fsencode(tmp_path), b"caf\xe9")
    os.rename(os.fsencode(good), bad)
    code = (
        "import sys, os; from mvk_tutorial.cli import main; "
        "sys.exit(main(['data', 'stats', os.fsdecode(sys.argv[1])]))"
    )
    r = subprocess.run([sys.executable, "-c", code, bad], capture_output=True, text=True,
                       errors="replace", timeout=120, env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert r.returncode in (0, 1, 2), (r.returncode, r.stderr[-2000:])  # 139 = SIGSEGV
    assert "bad file name" in r.stdout + r.stderr


def test_thumbnail_readers_accept_both_layouts(tmp_path):
    from mvk_tutorial.mvk.layout import list_thumbnails, thumbnail_path

    t = tmp_path / "information" / "thumbnails" / "Oahu_Jul2022"
    t.mkdir(parents=True)
    for name in ["0001_00000.jpg", "0001_00025.jpg", "0002.jpg", "notes.txt"]:
        (t / name).write_bytes(b"x")
    df = list_thumbnails(tmp_path)
    assert list(zip(df["video"], df["frame_index"])) == [("0001", 0), ("0001", 25), ("0002", -1)]
    assert thumbnail_path(tmp_path, "Oahu_Jul2022", "0001", 25).name == "0001_00025.jpg"
    assert thumbnail_path(tmp_path, "Oahu_Jul2022", "0002", 50).name == "0002.jpg"
    assert thumbnail_path(tmp_path, "Oahu_Jul2022", "0001").name == "0001_00000.jpg"
    with pytest.raises(FileNotFoundError, match="0003"):
        thumbnail_path(tmp_path, "Oahu_Jul2022", "0003", 1)
