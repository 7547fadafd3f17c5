"""Student copies of the exercise notebooks.

The chapters in ``book/`` are the solution versions. A code exercise keeps its answer
between the nbgrader-style markers::

    def softmax(x, dim=-1):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

and the student copy replaces each such region by ``raise NotImplementedError()``
(indented like the ``BEGIN`` marker). Cells tagged ``solution`` are dropped, MyST
``{solution}`` blocks are removed from markdown cells, and all outputs are cleared.
Check cells (``checks.softmax(softmax)``) stay, so a student sees them fail until the
answer is right. Answer and check cells carry nbgrader cell metadata (see
``mvk_tutorial.grading``, which also grades submissions and writes the instructor key).

Book: ch00 "How to use this book" (section "Exercises and how they are checked").
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SOLUTION_TAG = "solution"
STUDENT_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]

# A MyST directive fence ```{solution} ... ``` or :::{solution} ... ::: (3+ marks).
_SOLUTION_FENCE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{solution[^}]*\}.*?^(?P=fence)[ \t]*$\n?",
    re.MULTILINE | re.DOTALL,
)


def strip_solution_regions(source: str, where: str = "cell") -> str:
    """Replace every BEGIN/END SOLUTION region of ``source`` by the student stub.

    Raises ``ValueError`` naming ``where`` when markers are unbalanced or nested.
    """
    out: list[str] = []
    inside = False
    for lineno, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"{where}, line {lineno}: nested '{BEGIN}'")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + s for s in STUDENT_STUB)
        elif stripped == END:
            if not inside:
                raise ValueError(f"{where}, line {lineno}: '{END}' without '{BEGIN}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: '{BEGIN}' is never closed by '{END}'")
    return "\n".join(out)


def has_solution(source: str) -> bool:
    """True when ``source`` holds a solution region or a MyST solution block."""
    return BEGIN in source or bool(_SOLUTION_FENCE.search(source))


def _hide_markers_in_prose(text: str) -> str:
    """Prose that names the markers keeps them readable but no longer matchable.

    nbgrader takes any line holding "BEGIN SOLUTION" for the start of a solution region,
    in markdown cells too, and rejects the notebook when no END follows on a later line;
    a no-break space between the two words renders the same and matches neither.
    """
    for marker in (BEGIN, END):
        word = marker.split()[-2]  # BEGIN / END
        text = text.replace(f"{word} SOLUTION", f"{word}\u00a0SOLUTION")
    return text


def make_student_notebook(nb: nbformat.NotebookNode, name: str = "notebook",
                          keep_answers: bool = False):
    """Return a student copy of ``nb``: answers stubbed, solutions dropped, no outputs.

    With ``keep_answers=True`` the code answers stay between their markers instead: an
    nbgrader *source* notebook, from which ``nbgrader generate_assignment`` writes the
    same student copy (nbgrader's markers are ours, and it stubs them the same way).

    Book: ch00, section "Grading a class".
    """
    student = nbformat.from_dict(nb)  # a deep copy
    cells = []
    for index, cell in enumerate(student.cells):
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        where = f"{name}, cell {index}"
        if cell.cell_type == "code":
            stubbed = strip_solution_regions(cell.source, where)  # also checks the markers
            if not keep_answers:
                cell.source = stubbed
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = _hide_markers_in_prose(_SOLUTION_FENCE.sub("", cell.source))
        cells.append(cell)
    student.cells = cells
    from mvk_tutorial.grading import add_nbgrader_metadata

    return add_nbgrader_metadata(student)


def notebook_has_exercises(nb: nbformat.NotebookNode) -> bool:
    """True when any cell of ``nb`` holds an answer to hide."""
    return any(
        has_solution(c.source) or SOLUTION_TAG in c.get("metadata", {}).get("tags", [])
        for c in nb.cells
    )


def build_student_copies(book_dir: str | Path, out_dir: str | Path,
                         nbgrader_source: bool = False) -> list[Path]:
    """Write a student copy of every notebook under ``book_dir`` that has exercises.

    The folder structure below ``book_dir`` is kept. Each file is written atomically.
    With ``nbgrader_source=True`` each notebook is written instead as an nbgrader source
    notebook (answers kept between the markers) into its own assignment folder,
    ``out_dir/<notebook stem>/<notebook>``, so that ``out_dir`` can be a course's
    ``source/`` folder. Returns the written paths.

    Book: ch00, section "Grading a class".
    """
    from mvk_tutorial.utils import atomic_write

    book_dir, out_dir = Path(book_dir), Path(out_dir)
    if not book_dir.is_dir():
        raise NotADirectoryError(f"book folder {book_dir}: not a directory")
    written = []
    for path in sorted(book_dir.rglob("*.ipynb")):
        if "_build" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # nbformat raises several kinds
            raise ValueError(f"{path}: not a readable notebook ({exc})") from exc
        if not notebook_has_exercises(nb):
            continue
        student = make_student_notebook(nb, name=str(path), keep_answers=nbgrader_source)
        target = out_dir / path.relative_to(book_dir)
        if nbgrader_source:
            target = out_dir / path.stem / path.name
        atomic_write(target, nbformat.writes(student))
        written.append(target)
    return written


def _cmd_build(args) -> int:
    written = build_student_copies(args.book, args.out_dir, nbgrader_source=args.nbgrader)
    for path in written:
        print(path)
    kind = "nbgrader source" if args.nbgrader else "student"
    print(f"{len(written)} {kind} notebooks written to {args.out_dir}")
    return 0
