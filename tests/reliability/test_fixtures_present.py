"""Parity fixtures ship with the repository; a missing one fails in CI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "official_fixtures", Path(__file__).parents[1] / "fixtures" / "official.py"
)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

NEEDED = [
    fx.DEAOT / "deaot_t.npz",
    fx.DEAOT / "deaot_t.json",
    fx.DEAOT / "deaot_t_gap2.npz",
    fx.DAVIS / "official_scores.json",
    fx.DAVIS / "official_edge_scores.json",
    fx.DAVIS / "official_binary_scores.json",
    fx.DAVIS / "metrics.npz",
    fx.DAVIS / "DAVIS" / "ImageSets" / "2017" / "val.txt",
    fx.KIS_MVK / "official_ranks.json",
    fx.KIS_MVK / "data" / "manual_vs_ClipCap" / "100_samples.csv",
]


@pytest.mark.parametrize("path", NEEDED, ids=lambda p: str(p.relative_to(fx.ROOT)))
def test_fixture_is_in_the_repository(path):
    assert path.is_file(), f"{path} missing: remake with tests/fixtures/make_official.py"


def test_official_commits_are_recorded():
    rec = json.loads((fx.ROOT / "OFFICIAL.json").read_text())
    assert set(rec) == {"deaot", "davis", "kis_mvk"}
    for v in rec.values():
        assert len(v["commit"]) == 40 and "/" in v["repository"]


def test_fixtures_are_small():
    total = sum(p.stat().st_size for p in fx.ROOT.rglob("*") if p.is_file())
    assert total < 4 * 2**20  # no weights are stored: they come from the seed rule


def test_missing_fixture_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make_official.py"):
        fx.require(tmp_path / "nope.npz")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="nope.npz"):
        fx.require(tmp_path / "nope.npz")


def test_thumbnails_of_mvk_mini_follow_the_published_layout():
    from mvk_tutorial.mvk.layout import list_selected_frames, list_thumbnails
    from mvk_tutorial.mvk.synthetic import ensure_mvk_mini

    root = ensure_mvk_mini("test")
    thumbs = list_thumbnails(root)
    frames = list_selected_frames(root)
    assert (thumbs["frame_index"] >= 0).all()
    assert sorted(zip(thumbs.site, thumbs.video, thumbs.frame_index)) == sorted(
        zip(frames.site, frames.video, frames.frame_index)
    )
