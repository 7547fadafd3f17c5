"""The instructor kit: nbgrader metadata, grading submissions, the instructor key.

The submissions are made here from ch00's student copy (its warm-up softmax exercise):
a right answer, a wrong one, an unanswered one, one that kills its kernel, one that
hangs past the cell time limit, and a file that is not a notebook. One grading run must
report each of them correctly, and none may stop the others.
"""

import csv
import json
from pathlib import Path

import nbformat
import pytest

from mvk_tutorial.cli import main
from mvk_tutorial.exercises import make_student_notebook
from mvk_tutorial.grading import add_nbgrader_metadata, find_exercises, key_markdown

ROOT = Path(__file__).resolve().parents[2]
CH00 = ROOT / "book" / "ch00_how_to_use.ipynb"
RIGHT = '''def softmax(x, dim=-1):
    z = x - x.max(dim=dim, keepdim=True).values
    return z.exp() / z.exp().sum(dim=dim, keepdim=True)
'''
WRONG = '''def softmax(x, dim=-1):
    return x.exp() / x.exp().sum(dim=dim, keepdim=True)
'''


def _book_nb():
    return nbformat.read(CH00, as_version=4)


def test_ch00_has_one_checked_exercise():
    exercises = find_exercises(_book_nb())
    assert [e.name for e in exercises] == ["softmax"]


def test_student_copy_has_valid_nbgrader_metadata():
    student = make_student_notebook(_book_nb(), name="ch00")
    marked = [c.metadata["nbgrader"] for c in student.cells if "nbgrader" in c.metadata]
    assert len(marked) == 2
    answer, check = marked
    # nbgrader's rules (schema 3): every marked cell has a unique grade_id, a graded
    # cell has points, a solution cell is not locked, an autograder test is locked.
    for meta in marked:
        assert set(meta) >= {"grade", "grade_id", "locked", "schema_version", "solution", "task"}
        assert meta["schema_version"] == 3
    assert len({m["grade_id"] for m in marked}) == 2
    assert answer["solution"] and not answer["grade"] and not answer["locked"]
    assert check["grade"] and not check["solution"] and check["locked"] and check["points"] == 1
    assert all(" " not in m["grade_id"] for m in marked)
    nbformat.validate(student)


def test_nbgrader_accepts_the_student_copy():
    from nbgrader.preprocessors import CheckCellMetadata  # the test extra installs nbgrader

    student = make_student_notebook(_book_nb(), name="ch00")
    # nbgrader's own validity checks for source notebooks (duplicate ids, bad cells);
    # tests/foundation/test_nbgrader.py runs nbgrader's generate_assignment and autograde.
    CheckCellMetadata().preprocess(student, {})


def test_prose_naming_the_markers_is_not_a_solution_region():
    student = make_student_notebook(_book_nb(), name="ch00")
    prose = [c.source for c in student.cells if c.cell_type == "markdown"]
    assert any("BEGIN\u00a0SOLUTION" in p for p in prose)  # ch00 explains the markers
    assert not any("BEGIN SOLUTION" in p or "END SOLUTION" in p for p in prose)


def _submission(kind: str) -> nbformat.NotebookNode:
    """ch00's student copy cut to its answer and check cells, answered as ``kind``.

    Only the right and wrong answers keep the setup cell (it imports torch, slow on a
    loaded machine); the others fail before they would need it.
    """
    student = make_student_notebook(_book_nb(), name="ch00")
    (ex,) = find_exercises(student)
    setup = next(c for c in student.cells if c.cell_type == "code")
    cells = [student.cells[ex.answer_cell], student.cells[ex.check_cell]]
    if kind in ("right", "wrong"):
        cells.insert(0, setup)
    answer = cells[-2]
    if kind == "right":
        answer.source = RIGHT
    elif kind == "wrong":
        answer.source = WRONG
    elif kind == "crash":
        answer.source = "import os\nos._exit(1)"
    elif kind == "hang":
        answer.source = "import time\ntime.sleep(120)"
    student.cells = cells
    return student


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")
    for student, kind in [("alice", "right"), ("bob", "wrong"), ("carol", "unanswered"),
                          ("dave", "crash")]:
        (subs / student).mkdir()
        nbformat.write(_submission(kind), subs / student / CH00.name)
    (subs / "erin").mkdir()
    (subs / "erin" / CH00.name).write_text("{ this is not a notebook")
    (subs / "gina").mkdir()  # submitted nothing
    out = subs / "report.csv"
    status = main(["exercises", "grade", str(subs), "--out", str(out),
                   "--book", str(ROOT / "book"), "--timeout", "300"])
    assert status == 0
    with open(out, newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    with open(subs / "report_summary.csv", newline="") as f:
        summary = {r["student"]: r for r in csv.DictReader(f)}
    return rows, summary


def test_report_columns_and_one_row_per_student_and_exercise(graded):
    rows, summary = graded
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin", "gina"}
    assert list(next(iter(rows.values()))) == ["student", "notebook", "exercise", "passed", "message"]
    assert all(r["exercise"] == "softmax" and r["notebook"] == CH00.name for r in rows.values())
    assert set(summary) == set(rows)


def test_right_answer_passes(graded):
    rows, summary = graded
    assert rows["alice"]["passed"] == "True"
    assert rows["alice"]["message"].startswith("PASSED softmax")
    assert summary["alice"]["passed"] == "1" and summary["alice"]["score_percent"] == "100.0"


def test_wrong_answer_fails_with_the_checks_hint(graded):
    rows, summary = graded
    assert rows["bob"]["passed"] == "False"
    assert rows["bob"]["message"].startswith("AssertionError")
    assert summary["bob"]["passed"] == "0"


def test_unanswered_is_reported_as_such(graded):
    rows, _ = graded
    assert rows["carol"]["passed"] == "False"
    assert "not answered" in rows["carol"]["message"]


def test_crash_and_garbage_do_not_stop_the_others(graded):
    rows, summary = graded
    assert rows["dave"]["passed"] == "False" and "kernel died" in rows["dave"]["message"]
    assert rows["erin"]["passed"] == "False" and "unreadable notebook" in rows["erin"]["message"]
    assert rows["gina"]["message"] == "notebook not submitted"
    assert summary["alice"]["passed"] == "1"  # graded after/before the broken ones alike


def test_a_hanging_cell_is_cut_at_the_time_limit(tmp_path):
    (tmp_path / "frank").mkdir()
    nbformat.write(_submission("hang"), tmp_path / "frank" / CH00.name)
    out = tmp_path / "report.csv"
    assert main(["exercises", "grade", str(tmp_path), "--out", str(out),
                 "--book", str(ROOT / "book"), "--timeout", "3"]) == 0
    (row,) = list(csv.DictReader(open(out, newline="")))
    assert row["passed"] == "False"
    assert "3 s limit" in row["message"]


def test_grade_rejects_a_missing_folder(tmp_path, capsys):
    status = main(["exercises", "grade", str(tmp_path / "nope"), "--out", str(tmp_path / "r.csv")])
    assert status == 2
    assert "nope" in capsys.readouterr().err


def test_key_has_prose_and_code_solutions(tmp_path):
    nb = _book_nb()
    text = key_markdown(nb, "ch00")
    assert "ex-ch00-stable" in text
    # the text of ch00's solution block and of its code answer are both in the key
    solution_md = next(c.source for c in nb.cells if "{solution} ex-ch00-stable" in c.source)
    body = solution_md.split("{solution} ex-ch00-stable", 1)[1].split("```", 1)[0]
    first_line = [x for x in body.splitlines() if x.strip() and not x.startswith(":")][0]
    assert first_line.strip() in text
    assert "shifted = x - x.amax(dim=dim, keepdim=True)" in text
    assert main(["exercises", "key", str(tmp_path / "key"), "--book", str(ROOT / "book")]) == 0
    written = sorted(p.name for p in (tmp_path / "key").glob("*.md"))
    assert "ch00_how_to_use.md" in written
    assert len(written) >= 3
