"""nbgrader itself accepts the exercises: source notebooks in, student copies and grades out.

`mvk exercises build OUT --nbgrader` writes nbgrader *source* notebooks (answers kept
between the markers, nbgrader cell metadata). Here nbgrader 0.9 (its Python API, as
`nbgrader generate_assignment` / `nbgrader autograde` run it) must
- generate an assignment from every chapter with exercises, and release a notebook whose
  code cells are exactly the student copy that `mvk exercises build` writes;
- autograde ch00's warm-up exercise: a right answer scores 1 point of 1, a wrong one 0.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from traitlets.config import Config

from mvk_tutorial.cli import main
from mvk_tutorial.exercises import make_student_notebook
from mvk_tutorial.grading import find_exercises

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
RIGHT = '''def softmax(x, dim=-1):
    z = x - x.max(dim=dim, keepdim=True).values
    return z.exp() / z.exp().sum(dim=dim, keepdim=True)
'''
WRONG = '''def softmax(x, dim=-1):
    return x.exp() / x.exp().sum(dim=dim, keepdim=True)
'''


def _api(course: Path) -> NbGraderAPI:
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = "mvk"
    return NbGraderAPI(config=config)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    assert main(["exercises", "build", str(course / "source"), "--nbgrader", "--book", str(BOOK)]) == 0
    api = _api(course)
    results = {}
    for folder in sorted((course / "source").iterdir()):
        results[folder.name] = api.generate_assignment(folder.name)
    return course, results


def test_every_chapter_with_exercises_is_an_nbgrader_assignment(released):
    course, results = released
    assert "ch00_how_to_use" in results and len(results) >= 8, sorted(results)
    failed = {name: (r.get("error") or r.get("log", ""))[-600:] for name, r in results.items()
              if not r["success"]}
    assert not failed, failed


def test_nbgrader_releases_exactly_our_student_copy(released):
    course, _ = released
    for source in sorted((course / "source").glob("*/*.ipynb")):
        ours = make_student_notebook(nbformat.read(BOOK / source.name, as_version=4))
        theirs = nbformat.read(course / "release" / source.parent.name / source.name, as_version=4)
        ours_code = [c.source.rstrip() for c in ours.cells if c.cell_type == "code"]
        theirs_code = [c.source.rstrip() for c in theirs.cells if c.cell_type == "code"]
        assert theirs_code == ours_code, source.name
        grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in theirs.cells if "nbgrader" in c.metadata]
        assert grade_ids and len(grade_ids) == len(set(grade_ids)), source.name


@pytest.fixture(scope="module")
def autograded(tmp_path_factory):
    """ch00's warm-up (setup, answer and check cells) graded by nbgrader for two students."""
    course = tmp_path_factory.mktemp("course")
    source = make_student_notebook(nbformat.read(BOOK / "ch00_how_to_use.ipynb", as_version=4),
                                   keep_answers=True)
    (ex,) = find_exercises(source)
    setup = next(c for c in source.cells if c.cell_type == "code")
    source.cells = [setup, source.cells[ex.answer_cell], source.cells[ex.check_cell]]
    (course / "source" / "warmup").mkdir(parents=True)
    nbformat.write(source, course / "source" / "warmup" / "warmup.ipynb")
    api = _api(course)
    assert api.generate_assignment("warmup")["success"]
    for student, answer in (("alice", RIGHT), ("bob", WRONG)):
        sub = nbformat.read(course / "release" / "warmup" / "warmup.ipynb", as_version=4)
        (answer_cell,) = [c for c in sub.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert "raise NotImplementedError()" in answer_cell.source  # released as a stub
        answer_cell.source = answer
        folder = course / "submitted" / student / "warmup"
        folder.mkdir(parents=True)
        nbformat.write(sub, folder / "warmup.ipynb")
        result = api.autograde("warmup", student, force=True, create=True)
        assert result["success"], result.get("error") or result.get("log")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: (gb.find_submission("warmup", s).score, gb.find_submission("warmup", s).max_score)
                for s in ("alice", "bob")}


def test_nbgrader_autograde_scores_right_and_wrong_answers(autograded):
    assert autograded["alice"] == (1.0, 1.0)
    assert autograded["bob"] == (0.0, 1.0)
