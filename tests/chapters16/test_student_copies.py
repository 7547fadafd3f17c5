"""The student copies of ch01, ch02, ch07, ch09 and ch10 fail only in the exercise and
check cells, and only with NotImplementedError; every other cell runs."""

from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[2] / "book"
BEGIN = "### BEGIN SOLUTION"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ch01_attention.ipynb", "ch02_vit.ipynb",
                                  "ch07_vos_task_data_metrics.ipynb", "ch09_mvk_dataset.ipynb",
                                  "ch10_known_item_search.ipynb"])
def test_student_copy_fails_only_in_exercises(name):
    from nbclient import NotebookClient

    from mvk_tutorial.exercises import make_student_notebook

    solution = nbformat.read(BOOK / name, as_version=4)
    student = make_student_notebook(solution)
    NotebookClient(student, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(BOOK)}}).execute()
    failed = {i: [o for o in c.outputs if o.output_type == "error"][0].ename
              for i, c in enumerate(student.cells)
              if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)}
    stubs = {i for i, c in enumerate(solution.cells) if BEGIN in c.source}
    check_cells = {i for i, c in enumerate(solution.cells)
                   if c.cell_type == "code" and "checks." in c.source}
    assert check_cells and set(failed) <= stubs | check_cells, failed
    assert check_cells <= set(failed), "a check passed without an answer"
    assert set(failed.values()) == {"NotImplementedError"}
