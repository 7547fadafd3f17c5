"""The segment-resume record refuses to mix results of different models."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from mvk_tutorial.vos.data import write_mask
from mvk_tutorial.vos.run_record import RECORD_NAME, check_run_record, make_run_record


@pytest.fixture
def ckpts(tmp_path):
    a, b = tmp_path / "a.pth", tmp_path / "b.pth"
    a.write_bytes(b"weights A")
    b.write_bytes(b"weights B")
    return a, b


def test_record_hashes_the_checkpoint(ckpts):
    rec = make_run_record("deaot-t", ckpts[0], {"flip": False})
    assert rec["checkpoint"]["sha256"] == hashlib.sha256(b"weights A").hexdigest()
    assert rec["model"] == "deaot-t" and rec["settings"] == {"flip": False}


def test_new_resume_mismatch_and_redo(tmp_path, ckpts):
    out = tmp_path / "out"
    rec_a = make_run_record("deaot-t", ckpts[0], {"flip": False, "long_term_gap": 9999})
    assert check_run_record(out, rec_a) == "new"
    assert json.loads((out / RECORD_NAME).read_text()) == rec_a
    write_mask(out / "bear" / "00000.png", np.zeros((4, 4), np.uint8))
    assert check_run_record(out, rec_a) == "resume"
    rec_b = make_run_record("deaot-t", ckpts[1], {"flip": False, "long_term_gap": 9999})
    with pytest.raises(FileExistsError, match=r"out: results of another run \(checkpoint"):
        check_run_record(out, rec_b)
    rec_c = make_run_record("deaot-b", ckpts[0], {"flip": True, "long_term_gap": 9999})
    with pytest.raises(FileExistsError, match=r"model: 'deaot-t' -> 'deaot-b'.*flip"):
        check_run_record(out, rec_c)
    assert (out / "bear" / "00000.png").is_file()  # nothing removed on a refusal
    assert check_run_record(out, rec_b, redo=True) == "redo"
    assert not (out / "bear").exists()
    assert json.loads((out / RECORD_NAME).read_text()) == rec_b


def test_results_without_record_are_not_trusted(tmp_path, ckpts):
    out = tmp_path / "out"
    write_mask(out / "bear" / "00000.png", np.zeros((4, 4), np.uint8))
    rec = make_run_record("deaot-t", ckpts[0], {})
    with pytest.raises(FileExistsError, match="no record of what produced them"):
        check_run_record(out, rec)
