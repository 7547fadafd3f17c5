"""The project's code is its own: no transcription of official code; parity by fixtures."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "official_fixtures", Path(__file__).parents[1] / "fixtures" / "official.py"
)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

PKG = Path(__file__).resolve().parents[2] / "mvk_tutorial"


def test_official_module_is_no_transcription():
    from mvk_tutorial.vos import official, plain_loop

    # the old module defined the toolkit's functions under their names
    for name in ("db_eval_iou", "db_eval_boundary", "f_measure", "seg2bmap", "db_statistics"):
        assert not hasattr(official, name), name
    assert official.evaluate is plain_loop.evaluate  # kept for old imports only
    text = (PKG / "vos" / "official.py").read_text()
    assert "def " not in text


def test_plain_loop_equals_the_official_toolkit_numbers():
    from mvk_tutorial.vos import plain_loop
    from mvk_tutorial.vos.data import list_sequences

    ref = json.loads(fx.require(fx.DAVIS / "official_scores.json").read_text())
    davis = fx.DAVIS / "DAVIS"
    got = plain_loop.evaluate(davis, fx.DAVIS / "results", list_sequences(davis))
    assert list(got) == list(ref["global"])
    for k, v in ref["global"].items():
        assert abs(got[k] - v) <= 1e-12, k


def test_no_package_file_names_official_functions_as_its_own():
    # a transcription tends to keep the toolkit's private helper names
    offenders = [
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        for name in ("def db_eval_iou", "def _seg2bmap", "def KISExperiment", "def Parse_Dataset")
        if name in p.read_text()
    ]
    assert offenders == []
