"""KIS inputs that used to give wrong ranks or be dropped silently."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

from mvk_tutorial.retrieval.kis import rank_of_targets, video_rank_of_targets

_spec = importlib.util.spec_from_file_location(
    "official_fixtures", Path(__file__).parents[1] / "fixtures" / "official.py"
)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


@pytest.mark.parametrize("similarity", ["cosine_official", "cosine"])
def test_zero_frame_vector_is_rejected(similarity):
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(10, 4, generator=g, dtype=torch.float64)
    frames[3] = 0  # the target: 0 / 0 gave NaN, and NaN compares as "nothing above"
    q = torch.randn(1, 4, generator=g, dtype=torch.float64)
    with pytest.raises(ValueError, match="frame_emb: row 3 is a zero vector"):
        rank_of_targets(q, frames, [3], similarity=similarity)
    with pytest.raises(ValueError, match="frame_emb: row 3 is a zero vector"):
        video_rank_of_targets(q, frames, [3], list(range(10)), similarity=similarity)
    frames[3] = 1.0
    q[0] = 0
    with pytest.raises(ValueError, match="query_emb: row 0 is a zero vector"):
        rank_of_targets(q, frames, [3], similarity=similarity)


def _copy_kis(tmp_path: Path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(fx.require(fx.KIS_MVK / "data"), dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def _edit(path: Path, line_no: int, fn) -> None:
    lines = path.read_text().splitlines()
    lines[line_no - 1] = fn(lines[line_no - 1])
    path.write_text("\n".join(lines) + "\n")


def test_zero_vector_in_kis_mvk_csv_names_file_and_line(tmp_path):
    from mvk_tutorial.retrieval.kis_mvk import read_kis_mvk

    data = _copy_kis(tmp_path)
    csv = data / "extracted_low_res_images_v2" / "Lanai_Jul2022" / "0002.csv"

    def zero_image_vector(line):
        head, vec = line.rsplit(";", 1)
        return head + ";" + "|".join("0" for _ in vec.split("|"))

    _edit(csv, 3, zero_image_vector)
    with pytest.raises(ValueError, match=r"0002\.csv, line 3: column 'image_clip' is a zero"):
        read_kis_mvk(data)


def test_header_only_and_duplicate_kis_mvk_queries(tmp_path):
    from mvk_tutorial.retrieval.kis_mvk import read_kis_mvk

    data = _copy_kis(tmp_path)
    expert = data / "manual_vs_ClipCap" / "expertQueriesCLIPfeatures.csv"
    original = expert.read_text()
    expert.write_text(original.splitlines()[0] + "\n")
    with pytest.raises(ValueError, match=r"expertQueriesCLIPfeatures\.csv: no query rows"):
        read_kis_mvk(data)
    lines = original.splitlines()
    expert.write_text("\n".join(lines + [lines[2]]) + "\n")
    with pytest.raises(ValueError, match=r"line \d+: duplicate expert query .*line 3"):
        read_kis_mvk(data)


def test_header_only_and_duplicate_query_csv(tmp_path):
    from mvk_tutorial.retrieval.collection import read_queries

    q = tmp_path / "queries.csv"
    q.write_text("frame_path,query_type,text\n")
    with pytest.raises(ValueError, match=r"queries\.csv: no queries"):
        read_queries(q)
    q.write_text(
        "frame_path,query_type,text\na/0001_00001.jpg,novice,a fish\n"
        "a/0001_00002.jpg,novice,a ray\na/0001_00001.jpg,novice,another fish\n"
    )
    with pytest.raises(ValueError, match=r"queries\.csv, line 4: duplicate query.*line 2"):
        read_queries(q)


def test_corrupt_shard_and_manifest_are_named(tmp_path):
    import json

    from mvk_tutorial.retrieval.embed import MANIFEST, load_cached, shard_path

    cache = tmp_path / "image"
    cache.mkdir()
    (cache / MANIFEST).write_text(json.dumps({"items": ["a", "b"], "shard_size": 2}))
    shard_path(cache, 0).write_bytes(b"PK\x03\x04truncated")
    with pytest.raises(RuntimeError, match=r"corrupt embedding shard"):
        load_cached(cache)
    (cache / MANIFEST).write_text("{")
    with pytest.raises(ValueError, match=r"malformed cache manifest"):
        load_cached(cache)
