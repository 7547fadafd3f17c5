"""Whole-data-set J&F (mvk_tutorial.vos.evaluation): official parity and bad input."""

from __future__ import annotations

import json
import shutil
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mvk_tutorial.vos import evaluation
from mvk_tutorial.vos.data import list_sequences, read_mask, write_mask
from mvk_tutorial.vos.synthetic_davis import make_synthetic_davis

_spec = importlib.util.spec_from_file_location(
    "official_fixtures", Path(__file__).parents[1] / "fixtures" / "official.py"
)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)
DAVIS_REF = fx.DAVIS
needs_fixture = fx.needs(DAVIS_REF)


@needs_fixture
@pytest.mark.parametrize("workers", [1, 2])
def test_fixture_equals_official_scores(workers):
    ref = json.loads((DAVIS_REF / "official_scores.json").read_text())
    res = evaluation.evaluate(
        DAVIS_REF / "DAVIS", DAVIS_REF / "results", workers=workers
    )
    assert list(res.global_scores) == list(ref["global"])
    for k, v in ref["global"].items():
        assert abs(res.global_scores[k] - v) <= 1e-6, k
    assert list(res.per_object) == list(ref["per_object"])  # same order too
    for k, (j, f) in ref["per_object"].items():
        assert (
            abs(res.per_object[k][0] - j) <= 1e-6
            and abs(res.per_object[k][1] - f) <= 1e-6
        )


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    davis, results = make_synthetic_davis(
        root, num_sequences=5, num_frames=9, size=(72, 128), max_objects=3, seed=3
    )
    return davis, results


def _copy(synth, tmp_path):
    davis, results = synth
    shutil.copytree(davis, tmp_path / "DAVIS")
    shutil.copytree(results, tmp_path / "results")
    return tmp_path / "DAVIS", tmp_path / "results"


def _assert_scores(res, ref, tol=1e-12):
    assert list(res.per_object) == list(ref["per_object"])
    for k, v in ref["global"].items():
        assert abs(res.global_scores[k] - v) <= tol, k
    for k, (j, f) in ref["per_object"].items():
        assert abs(res.per_object[k][0] - j) <= tol, k
        assert abs(res.per_object[k][1] - f) <= tol, k


@needs_fixture
def test_edge_cases_equal_official(tmp_path):
    # ground truth with an id that is no object; an object never predicted
    make = fx.load_helper("make_official")
    make.edge_case(DAVIS_REF, tmp_path / "edge")
    ref = json.loads((DAVIS_REF / "official_edge_scores.json").read_text())
    res = evaluation.evaluate(tmp_path / "edge" / "DAVIS", tmp_path / "edge" / "results")
    _assert_scores(res, ref)


@needs_fixture
def test_davis_2016_binarises_like_official_on_binary_copies(tmp_path):
    davis = tmp_path / "DAVIS"
    shutil.copytree(DAVIS_REF / "DAVIS", davis)
    (davis / "ImageSets").chmod(0o755)
    (davis / "ImageSets/2016").mkdir()
    (davis / "ImageSets/2016/val.txt").write_text("manta-e\neel-f\n")
    got = evaluation.evaluate(davis, DAVIS_REF / "results", year="2016")
    ref = json.loads((DAVIS_REF / "official_binary_scores.json").read_text())
    _assert_scores(got, ref)


def test_gt_ids_above_first_frame_and_missing_prediction_ids(synth, tmp_path):
    davis, results = _copy(synth, tmp_path)
    seq = "synth-002"  # three objects
    ann = sorted((davis / "Annotations/480p" / seq).glob("*.png"))
    m = read_mask(ann[3])
    m[:4, :4] = 7  # an id that is no object (not in the first frame)
    write_mask(ann[3], m)
    for p in sorted((results / seq).glob("*.png")):
        pm = read_mask(p)
        write_mask(p, np.where(pm == 3, 0, pm))  # object 3 never predicted
    res = evaluation.evaluate(davis, results)
    s = next(x for x in res.sequences if x.name == seq)
    gt = np.stack([read_mask(p) for p in ann[1:-1]])
    present = (gt == 3).any(axis=(1, 2))
    np.testing.assert_array_equal(s.j[2], np.where(present, 0.0, 1.0))
    np.testing.assert_array_equal(s.f[2], np.where(present, 0.0, 1.0))


def test_first_and_last_predictions_are_not_read(synth, tmp_path):
    davis, results = _copy(synth, tmp_path)
    before = evaluation.evaluate(davis, results).global_scores
    for seq in list_sequences(davis):
        files = sorted((results / seq).glob("*.png"))
        files[0].unlink()
        write_mask(files[-1], np.full(read_mask(files[-1]).shape, 9, np.uint8))
    assert evaluation.evaluate(davis, results).global_scores == before


def test_id_above_ground_truth_names_sequence_and_frame(synth, tmp_path):
    davis, results = _copy(synth, tmp_path)
    p = results / "synth-000" / "00004.png"  # synth-000 has one object
    m = read_mask(p)
    m[0, 0] = 2
    write_mask(p, m)
    with pytest.raises(ValueError, match=r"synth-000.*frame 00004.*id 2.*1 object"):
        evaluation.evaluate(davis, results)


def test_wrong_size_missing_and_extra_predictions(synth, tmp_path):
    davis, results = _copy(synth, tmp_path)
    p = results / "synth-001" / "00002.png"
    write_mask(p, np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match=r"synth-001.*00002.png is 10x10.*128x72"):
        evaluation.evaluate(davis, results)
    p.unlink()
    with pytest.raises(FileNotFoundError, match=r"synth-001.*1 of the 7.*00002.png"):
        evaluation.evaluate(davis, results)
    write_mask(p, np.zeros((72, 128), np.uint8))
    write_mask(results / "synth-001" / "00099.png", np.zeros((72, 128), np.uint8))
    with pytest.warns(UserWarning, match=r"synth-001.*ignoring 1 PNG.*00099.png"):
        evaluation.evaluate(davis, results)  # ignored, as the official toolkit does
    (results / "synth-001" / "00099.png").unlink()
    shutil.rmtree(results / "synth-003")
    with pytest.raises(FileNotFoundError, match=r"synth-003.*prediction folder"):
        evaluation.evaluate(davis, results)


def test_missing_annotation_folder_and_absent_sequence(synth, tmp_path):
    davis, results = _copy(synth, tmp_path)
    shutil.rmtree(davis / "Annotations/480p/synth-004")
    with pytest.raises(FileNotFoundError, match=r"val.txt.*synth-004"):
        evaluation.evaluate(davis, results)
    with pytest.raises(FileNotFoundError, match=r"sequence 'synth-004'.*annotations"):
        evaluation.evaluate(davis, results, sequences=["synth-004"])
    with pytest.raises(FileNotFoundError, match="results folder"):
        evaluation.evaluate(davis, tmp_path / "nope")


