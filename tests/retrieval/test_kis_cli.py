"""`mvk kis run` and `mvk kis embed` end to end."""

from __future__ import annotations

import csv
import json
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import open_clip
import pandas as pd
import pytest
import torch

from mvk_tutorial.cli import main
from mvk_tutorial.retrieval.clip import TINY_CLIP, register_tiny_clip
from mvk_tutorial.retrieval.embed import load_cached

_spec = importlib.util.spec_from_file_location(
    "official_fixtures", Path(__file__).parents[1] / "fixtures" / "official.py"
)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)
FIXTURE = fx.KIS_MVK


@fx.needs(FIXTURE)
def test_run_official_layout_writes_official_ranks(tmp_path, capsys):
    out = tmp_path / "ranks.csv"
    assert (
        main(["kis", "run", "--kis-mvk-data", str(FIXTURE / "data"), "--out", str(out)])
        == 0
    )
    df = pd.read_csv(out)
    assert list(df.columns) == ["query_type", "target", "rank"]
    official = json.loads((FIXTURE / "official_ranks.json").read_text())
    for q, ours in (("clipcap", "automatic"), ("novice", "novice"), ("expert", "expert")):
        assert df[df.query_type == ours]["rank"].tolist() == official[q]
    assert "median" in capsys.readouterr().out


def test_run_bad_input_exit_code(tmp_path, capsys):
    assert (
        main(
            [
                "kis",
                "run",
                "--kis-mvk-data",
                str(tmp_path),
                "--out",
                str(tmp_path / "r.csv"),
            ]
        )
        == 2
    )
    assert "extracted_low_res_images_v2" in capsys.readouterr().err
    assert main(["kis", "run", "--out", str(tmp_path / "r.csv")]) == 2


def _fake_root(root: Path) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for site in ("Lanai_Jul2022", "Oahu_Jul2022"):
        for video in ("0001", "0002"):
            for k in (0, 8, 16):
                rel = f"information/selected_frames/{site}/{video}_{k:05d}.jpg"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(
                    str(root / rel), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
                )
                rows.append(
                    {
                        "frame_path": rel,
                        "automatic": "a coral reef with fish.",
                        "novice": f"fish {k}",
                        "expert": f"one shark {site} {video} {k}",
                    }
                )
    pd.DataFrame(rows).to_csv(root / "information" / "captions.csv", index=False)


def test_embed_then_run(tmp_path):
    root = tmp_path / "mvk"
    _fake_root(root)
    register_tiny_clip()
    torch.manual_seed(0)
    torch.save(open_clip.create_model(TINY_CLIP).state_dict(), tmp_path / "w.pt")
    args = [
        "kis",
        "embed",
        "--root",
        str(root),
        "--out",
        str(tmp_path / "emb"),
        "--pretrained",
        str(tmp_path / "w.pt"),
        "--workers",
        "0",
        "--shard-size",
        "5",
    ]
    assert main(args) == 0
    assert main(args) == 0  # resumes: nothing left to do
    frames, fm = load_cached(tmp_path / "emb" / "image")
    texts, tm = load_cached(tmp_path / "emb" / "text")
    assert frames.shape == (12, 128) and texts.shape == (36, 128)
    out = tmp_path / "ranks.csv"
    assert (
        main(
            [
                "kis",
                "run",
                "--embeddings",
                str(tmp_path / "emb"),
                "--out",
                str(out),
                "--num-targets",
                "5",
            ]
        )
        == 0
    )
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15
    # brute force: stable descending sort of cosine scores from the cached embeddings
    fn = torch.nn.functional.normalize(frames.double(), dim=1)
    for r in rows:
        j = [
            i
            for i, (q, t) in enumerate(
                zip(tm["meta"]["query_type"], tm["meta"]["frame_path"])
            )
            if q == r["query_type"] and t == r["target"]
        ][0]
        s = (fn @ torch.nn.functional.normalize(texts[j].double(), dim=0)).tolist()
        order = sorted(range(12), key=lambda i: s[i], reverse=True)
        assert int(r["rank"]) == order.index(fm["items"].index(r["target"]))
        assert 0 <= int(r["video_rank"]) <= min(int(r["rank"]), 3)
