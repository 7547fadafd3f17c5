"""``mvk vos eval``: official CSV tables, full-precision JSON, clean errors."""

from __future__ import annotations

import csv
import json
import shutil
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mvk_tutorial.cli import main
from mvk_tutorial.vos.data import read_mask, write_mask

_spec = importlib.util.spec_from_file_location(
    "official_fixtures", Path(__file__).parents[1] / "fixtures" / "official.py"
)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)
DAVIS_REF = fx.DAVIS
needs_fixture = fx.needs(DAVIS_REF)


@needs_fixture
@pytest.mark.parametrize("workers", ["1", "2"])
def test_cli_tables_and_json(tmp_path, capsys, workers):
    results = tmp_path / "results"
    shutil.copytree(DAVIS_REF / "results", results)
    out_json = tmp_path / "scores.json"
    argv = ["vos", "eval", "--davis-root", str(DAVIS_REF / "DAVIS")]
    argv += ["--results", str(results), "--json", str(out_json), "--workers", workers]
    assert main(argv) == 0
    ref = json.loads((DAVIS_REF / "official_scores.json").read_text())

    got = json.loads(out_json.read_text())
    assert list(got) == ["global", "per_object"]
    assert list(got["global"]) == list(ref["global"])
    for k, v in ref["global"].items():
        assert abs(got["global"][k] - v) <= 1e-6
    assert list(got["per_object"]) == list(ref["per_object"])
    for k, v in ref["per_object"].items():
        np.testing.assert_allclose(got["per_object"][k], v, rtol=0, atol=1e-6)

    with open(results / "global_results-val.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(ref["global"])
    assert rows[1] == [f"{v:.3f}" for v in ref["global"].values()]
    with open(results / "per-sequence_results-val.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Sequence", "J-Mean", "F-Mean"]
    assert rows[1:] == [
        [k, f"{j:.3f}", f"{f_:.3f}"] for k, (j, f_) in ref["per_object"].items()
    ]
    printed = capsys.readouterr().out
    assert "Global results for val" in printed and "J&F-Mean" in printed
    assert f"{ref['global']['J&F-Mean']:.6f}" in printed


@needs_fixture
def test_cli_bad_prediction_is_a_clean_error(tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(DAVIS_REF / "results", results)
    p = results / "crab-g" / "00003.png"
    m = read_mask(p)
    m[0, 0] = 5
    write_mask(p, m)
    argv = ["vos", "eval", "--davis-root", str(DAVIS_REF / "DAVIS")]
    assert main(argv + ["--results", str(results), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "crab-g" in err and "00003" in err and "id 5" in err
    assert not (results / "global_results-val.csv").exists()
    assert main(argv + ["--results", str(results), "--set", "test-dev"]) == 2
    assert "test-dev.txt" in capsys.readouterr().err
