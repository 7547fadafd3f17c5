"""The official KIS_MVK CSV layout: parity with the ranks KIS.py computed, and bad rows."""

from __future__ import annotations

import json
import shutil
import importlib.util
from pathlib import Path

import pytest

from mvk_tutorial.retrieval.kis_mvk import read_kis_mvk, run_kis_mvk

_spec = importlib.util.spec_from_file_location(
    "official_fixtures", Path(__file__).parents[1] / "fixtures" / "official.py"
)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)
FIXTURE = fx.KIS_MVK
needs_fixture = fx.needs(FIXTURE)


@needs_fixture
@pytest.mark.parametrize("folder_order", ["sorted", "listdir"])
def test_ranks_equal_official_ranks(folder_order):
    official = json.loads((FIXTURE / "official_ranks.json").read_text())
    rows = run_kis_mvk(read_kis_mvk(FIXTURE / "data", folder_order))
    # the official file calls the automatic caption "clipcap"
    for qtype, ours in (("clipcap", "automatic"), ("novice", "novice"), ("expert", "expert")):
        mine = [r for r in rows if r["query_type"] == ours]
        assert [r["target"] for r in mine] == official["targets"]
        assert [r["rank"] for r in mine] == official[qtype], qtype


@needs_fixture
def test_reader_shapes():
    data = read_kis_mvk(FIXTURE / "data")
    assert data.frame_emb.shape == (499, 48)
    assert len(data.frame_paths) == len(data.captions) == 499
    for qtype in ("clipcap", "novice", "expert"):
        images, texts, emb = data.queries[qtype]
        assert len(images) == len(texts) == emb.shape[0] == 100 and emb.shape[1] == 48


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(FIXTURE / "data", dst)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def _edit_line(path: Path, line_no: int, fn) -> None:
    lines = path.read_text().splitlines()
    lines[line_no - 1] = fn(lines[line_no - 1])
    path.write_text("\n".join(lines) + "\n")


@needs_fixture
def test_malformed_row_named(tmp_path):
    data = _copy(tmp_path)
    csv = data / "extracted_low_res_images_v2" / "Oahu_Jul2022" / "0002.csv"
    _edit_line(csv, 4, lambda s: s.rsplit(";", 1)[0])  # drop the image vector
    with pytest.raises(
        ValueError, match=r"0002\.csv, line 4: expected 4 ';'-separated"
    ):
        read_kis_mvk(data)


@needs_fixture
def test_bad_number_and_wrong_length_named(tmp_path):
    data = _copy(tmp_path)
    csv = data / "manual_vs_ClipCap" / "expertQueriesCLIPfeatures.csv"
    _edit_line(csv, 3, lambda s: s.replace("|", "|x", 1))
    with pytest.raises(
        ValueError,
        match=r"expertQueriesCLIPfeatures\.csv, line 3: column 'expert_clip'",
    ):
        read_kis_mvk(data)
    _edit_line(csv, 3, lambda s: s.replace("|x", "|", 1).rsplit("|", 1)[0])
    with pytest.raises(ValueError, match=r"line 3: vector of length 47, expected 48"):
        read_kis_mvk(data)


@needs_fixture
def test_target_not_in_collection_named(tmp_path):
    data = _copy(tmp_path)
    csv = data / "manual_vs_ClipCap" / "100_samples.csv"
    _edit_line(
        csv, 5, lambda s: s.replace("selected_frames/", "selected_frames/Nowhere_", 1)
    )
    with pytest.raises(
        ValueError, match=r"100_samples\.csv, line 5: target frame .*Nowhere_"
    ):
        read_kis_mvk(data)


def test_missing_folder(tmp_path):
    with pytest.raises(NotADirectoryError, match="extracted_low_res_images_v2"):
        read_kis_mvk(tmp_path)
