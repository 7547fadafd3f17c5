"""Download helper (local files and a loopback server only), prepare_mvk, DAVIS checks."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from mvk_tutorial.mvk.download import download, sha256_of
from mvk_tutorial.mvk.layout import list_selected_frames, list_videos
from mvk_tutorial.mvk.prepare import check_davis, check_youtube_vos, prepare_mvk

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(
        name, REPO / "data_scripts" / f"{name}.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _payload(tmp_path: Path) -> tuple[Path, bytes, str]:
    data = np.random.default_rng(0).bytes(3 * 1024 * 1024 + 17)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    return src, data, hashlib.sha256(data).hexdigest()


def test_download_file_url_resume_and_checksum(tmp_path):
    src, data, digest = _payload(tmp_path)
    dest = tmp_path / "out" / "file.bin"
    dest.parent.mkdir()
    (dest.parent / "file.bin.part").write_bytes(data[:1_000_000])  # interrupted earlier
    assert download(src.as_uri(), dest, digest, progress=False) == dest
    assert dest.read_bytes() == data and not (dest.parent / "file.bin.part").exists()
    assert sha256_of(dest) == digest
    bad = tmp_path / "bad.bin"
    with pytest.raises(ValueError, match=r"bad\.bin: sha256 mismatch"):
        download(src.as_uri(), bad, "0" * 64, progress=False)
    assert not bad.exists() and not (tmp_path / "bad.bin.part").exists()
    with pytest.raises(ValueError, match="url"):
        download("ftp://example.org/x", tmp_path / "x", progress=False)
    assert (
        _script("download").main(
            [src.as_uri(), str(tmp_path / "c.bin"), "--sha256", digest]
        )
        == 0
    )


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    data = b""
    ranges: list = []

    def do_GET(self):
        start = 0
        rng = self.headers.get("Range")
        self.ranges.append(rng)
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        body = self.data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_download_http_range_resume_on_loopback(tmp_path):
    _, data, digest = _payload(tmp_path)
    _RangeHandler.data, _RangeHandler.ranges = data, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dest = tmp_path / "d.bin"
        (tmp_path / "d.bin.part").write_bytes(data[:12345])
        url = f"http://127.0.0.1:{server.server_address[1]}/d.bin"
        download(url, dest, digest, progress=False)
        assert dest.read_bytes() == data and _RangeHandler.ranges == ["bytes=12345-"]
    finally:
        server.shutdown()
        server.server_close()


def _raw_video(path: Path, colours, n=10, fps=10.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 48))
    for c in colours:
        for _ in range(n):
            vw.write(np.full((48, 64, 3), c, np.uint8))
    vw.release()


def test_prepare_mvk_layout_resume_and_bad_video(tmp_path):
    raw = tmp_path / "raw"
    _raw_video(raw / "Oahu_Jul2022" / "GX0101.MP4", [(200, 40, 0), (0, 40, 200)])
    _raw_video(raw / "Oahu_Jul2022" / "GX0102.mp4", [(20, 200, 20)], n=25)
    out = tmp_path / "mvk"
    metas = prepare_mvk(raw, out, camera="GoPro", progress=False)
    assert [m.name for m in metas] == ["0001.json", "0002.json"]
    videos = list_videos(out)
    assert list(videos["video"]) == ["0001", "0002"] and videos["has_metadata"].all()
    first = json.loads(metas[0].read_text())
    assert first["selected_frames"] == [0, 10] and first["source_file"] == "GX0101.MP4"
    assert first["num_frames"] == 20 and first["camera"] == "GoPro"
    assert json.loads(metas[1].read_text())["selected_frames"] == [0, 10, 20]
    assert len(list_selected_frames(out)) == 5
    thumbs = sorted(p.name for p in (out / "information/thumbnails/Oahu_Jul2022").iterdir())
    frames = sorted(p.name for p in (out / "information/selected_frames/Oahu_Jul2022").iterdir())
    assert thumbs == frames  # one thumbnail per selected frame, same names
    stamp = metas[0].stat().st_mtime_ns
    prepare_mvk(raw, out, progress=False)  # rerun: finished videos are skipped
    assert metas[0].stat().st_mtime_ns == stamp
    (raw / "Oahu_Jul2022" / "GX0103.mp4").write_bytes(b"garbage" * 50)
    with pytest.raises(ValueError, match="GX0103.mp4"):
        prepare_mvk(raw, tmp_path / "mvk2", progress=False)
    assert not (tmp_path / "mvk2").exists()
    (raw / "bad name").mkdir()
    with pytest.raises(ValueError, match="bad name"):
        prepare_mvk(raw, tmp_path / "mvk3", progress=False)
    assert _script("prepare_mvk").main([str(raw), str(tmp_path / "mvk4")]) == 2


def test_check_davis_on_mvk_mini_and_broken_copies(mini_root, tmp_path):
    assert check_davis(mini_root / "DAVIS") == []
    assert _script("prepare_davis").main([str(mini_root / "DAVIS")]) == 0
    broken = tmp_path / "DAVIS"
    shutil.copytree(mini_root / "DAVIS", broken)
    seq = (broken / "ImageSets/2017/val.txt").read_text().split()[0]
    shutil.rmtree(broken / "Annotations/480p" / seq)
    first = sorted((broken / "Annotations/480p").iterdir())[0] / "00000.png"
    Image.open(first).convert("RGB").save(first)
    problems = check_davis(broken)
    assert any(seq in p and "no .png masks" in p for p in problems)
    assert any("00000.png" in p and "palette" in p for p in problems)
    assert check_davis(tmp_path / "nowhere")[0].endswith("480p, ImageSets/2017)")
    yt = tmp_path / "yt" / "valid"
    shutil.copytree(mini_root / "DAVIS/JPEGImages/480p", yt / "JPEGImages")
    shutil.copytree(mini_root / "DAVIS/Annotations/480p", yt / "Annotations")
    shutil.copy(mini_root / "DAVIS/meta.json", yt / "meta.json")
    assert check_youtube_vos(tmp_path / "yt") == []
    (yt / "meta.json").write_text("{")
    assert "malformed" in check_youtube_vos(tmp_path / "yt")[0]


def test_check_davis_on_official_fixture():
    root = FIXTURES / "davis" / "DAVIS"
    assert root.is_dir(), f"fixture {root} missing (it is part of the repository)"
    assert check_davis(root) == []


@pytest.mark.slow
def test_make_mvk_mini_script(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "mini"
    cmd = [
        sys.executable,
        str(REPO / "data_scripts" / "make_mvk_mini.py"),
        "--out",
        str(out),
        "--preset",
        "test",
        "--sites",
        "1",
        "--videos-per-site",
        "1",
    ]
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "TQDM_DISABLE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert (out / "mvk_mini.json").is_file() and (
        out / "videos/Lanai_Jul2022/0001.mp4"
    ).is_file()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "already exists" in again.stderr
