"""The exercise system: student copies, check cells, and the checks themselves."""

import re
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from mvk_tutorial import checks
from mvk_tutorial.exercises import (
    BEGIN,
    END,
    build_student_copies,
    make_student_notebook,
    notebook_has_exercises,
    strip_solution_regions,
)

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
EXERCISE_NOTEBOOKS = [
    p for p in sorted(BOOK.glob("*.ipynb"))
    if notebook_has_exercises(nbformat.read(p, as_version=4))
]


def _solution_lines(nb) -> list[str]:
    """Non-trivial lines of every answer region and MyST solution block of ``nb``."""
    lines = []
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            lines += cell.source.splitlines()
            continue
        if cell.cell_type == "code":
            inside = False
            for line in cell.source.splitlines():
                if line.strip() == BEGIN:
                    inside = True
                elif line.strip() == END:
                    inside = False
                elif inside:
                    lines.append(line)
        else:
            for m in re.finditer(
                r"^(`{3,}|:{3,})\{solution[^}]*\}[^\n]*\n(.*?)^\1", cell.source, re.M | re.S
            ):
                lines += m.group(2).splitlines()
    return [x.strip() for x in lines if len(x.strip()) > 12 and not x.strip().startswith(":")]


def test_strip_solution_keeps_indentation_and_surroundings():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\nprint(1)"
    out = strip_solution_regions(src)
    assert out == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(1)"
    )
    namespace = {}
    exec(out.replace("print(1)", ""), namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)


@pytest.mark.parametrize(
    "src, message",
    [
        (f"{BEGIN}\nx = 1", "never closed"),
        (f"x = 1\n{END}", "without"),
        (f"{BEGIN}\n{BEGIN}\n{END}", "nested"),
    ],
)
def test_unbalanced_markers_name_the_cell(src, message):
    with pytest.raises(ValueError, match=f"ch99.ipynb, cell 3.*{message}"):
        strip_solution_regions(src, where="ch99.ipynb, cell 3")


def test_student_notebook_drops_solutions_and_outputs():
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell(f"def f():\n    {BEGIN}\n    return 42\n    {END}")
    code.outputs = [nbformat.v4.new_output("stream", text="secret output")]
    code.execution_count = 3
    hidden = nbformat.v4.new_code_cell("answer = 42")
    hidden.metadata["tags"] = ["solution"]
    prose = nbformat.v4.new_markdown_cell(
        "Question?\n\n```{solution} ex-1\n:class: dropdown\nThe answer is 42.\n```\n\nAfter."
    )
    nb.cells = [code, hidden, prose]
    student = make_student_notebook(nb)
    text = nbformat.writes(student)
    for secret in ("return 42", "answer = 42", "The answer is 42", "secret output"):
        assert secret not in text
    assert len(student.cells) == 2
    assert student.cells[0].outputs == [] and student.cells[0].execution_count is None
    assert "Question?" in student.cells[1].source and "After." in student.cells[1].source
    assert nb.cells[0].outputs, "the solution notebook itself must not be changed"


def test_book_has_exercise_notebooks():
    assert EXERCISE_NOTEBOOKS, "no notebook in book/ has a code exercise"


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.name)
def test_student_copy_holds_no_solution_text(path, tmp_path):
    written = build_student_copies(BOOK, tmp_path)
    student_path = tmp_path / path.name
    assert student_path in written
    solution = nbformat.read(path, as_version=4)
    student_text = student_path.read_text()
    student = nbformat.reads(student_text, as_version=4)
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert BEGIN not in code and END not in code
    leaked = [line for line in _solution_lines(solution) if line in student_text]
    assert not leaked, f"solution text in the student copy of {path.name}: {leaked[:3]}"
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_a_passing_check_cell(path):
    """Each answer is followed by a check cell whose stored output says PASSED."""
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "code" or BEGIN not in cell.source:
            continue
        following = [c for c in cells[i + 1 :] if c.cell_type == "code"]
        check = next((c for c in following if "checks." in c.source), None)
        assert check is not None, f"{path.name}, cell {i}: no check cell after it"
        assert check.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT")
        text = "".join(o.get("text", "") for o in check.outputs)
        assert "PASSED" in text, f"{path.name}: check cell has no PASSED output"


def _execute(nb, cwd):
    from nbclient import NotebookClient

    bindir = str(Path(sys.executable).parent)
    import os

    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    NotebookClient(
        nb, timeout=300, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    ).execute()
    return nb


@pytest.mark.slow
def test_student_copy_fails_exactly_in_exercise_cells(tmp_path):
    """Execute the student copy of ch00: only the exercise cells fail, and they fail
    with NotImplementedError; every other cell runs as in the solution version."""
    path = BOOK / "ch00_how_to_use.ipynb"
    solution = nbformat.read(path, as_version=4)
    student = _execute(make_student_notebook(solution), BOOK)
    stub_cells = {i for i, c in enumerate(solution.cells) if BEGIN in c.source}
    # The check cells of the exercises: the first cell calling checks.<name>(...) after
    # each answer cell (a demo that checks a deliberately wrong function is not one).
    check_cells = set()
    for i in sorted(stub_cells):
        later = [j for j in range(i + 1, len(solution.cells))
                 if solution.cells[j].cell_type == "code" and "checks." in solution.cells[j].source]
        if later:
            check_cells.add(later[0])
    assert stub_cells and check_cells
    failed = {}
    for i, cell in enumerate(student.cells):
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            failed[i] = errors[0].ename
    assert set(failed) <= stub_cells | check_cells, "a non-exercise cell failed"
    assert check_cells <= set(failed), "a check passed without an answer"
    assert set(failed.values()) == {"NotImplementedError"}


def test_softmax_check_accepts_reference_and_catches_wrong_answers(capsys):
    checks.softmax(lambda x, dim=-1: torch.softmax(x, dim=dim))
    assert capsys.readouterr().out.strip() == "PASSED softmax: 5/5 cases"
    naive = lambda x, dim=-1: x.exp() / x.exp().sum(dim=dim, keepdim=True)  # noqa: E731
    with pytest.raises(AssertionError, match="(?s)case 4/5.*Hint"):
        checks.softmax(naive)
    ignores_dim = lambda x, dim=-1: torch.softmax(x, dim=-1)  # noqa: E731
    with pytest.raises(AssertionError, match="columns"):
        checks.softmax(ignores_dim)


def test_check_lets_not_implemented_through():
    def unanswered(x, dim=-1):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.softmax(unanswered)


def test_cli_builds_student_copies(tmp_path, capsys):
    from mvk_tutorial.cli import main

    assert main(["exercises", "build", str(tmp_path), "--book", str(BOOK)]) == 0
    assert "student notebooks written" in capsys.readouterr().out
    assert (tmp_path / "ch00_how_to_use.ipynb").is_file()
