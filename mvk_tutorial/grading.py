"""Grading submitted student notebooks, nbgrader metadata, and the instructor key.

An exercise of a chapter is a *check cell*: the code cell that calls
``checks.<name>(...)`` right after an answer cell (a cell with a ``### BEGIN SOLUTION``
region). The student copies written by ``mvk exercises build`` carry nbgrader cell
metadata: the answer cell is a solution cell (``<name>-answer``), the check cell a
locked, graded test cell (``grade_id`` = ``<name>``, one point), so the copies also
import into nbgrader.

``mvk exercises grade SUBMISSIONS --out report.csv`` executes each submitted notebook
(one folder per student, notebooks named like the student copies) in a fresh kernel,
with a time limit per cell, continuing after errors like nbgrader's autograder. An
exercise passes when its check cell printed ``PASSED``. A notebook that cannot be
read, times out or kills its kernel fails its own exercises and nothing else.

``mvk exercises key OUT`` writes the instructor key: every prose exercise with its
solution block, and every code answer, one Markdown file per chapter.

Book: ch00, section "Grading a class".
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mvk_tutorial.exercises import BEGIN, END, SOLUTION_TAG, STUDENT_STUB
from mvk_tutorial.utils import atomic_write

NBGRADER_SCHEMA = 3
_CHECK_CALL = re.compile(r"\bchecks\.([A-Za-z_]\w*)\s*\(")
_FENCE = r"^(?P<fence>`{{3,}}|:{{3,}})\{{{kind}\}}(?P<arg>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$"
_EXERCISE_BLOCK = re.compile(_FENCE.format(kind="exercise"), re.M | re.S)
_SOLUTION_BLOCK = re.compile(_FENCE.format(kind="solution"), re.M | re.S)
REPORT_FIELDS = ("student", "notebook", "exercise", "passed", "message")
SUMMARY_FIELDS = ("student", "passed", "total", "score_percent", "problems")


@dataclass(frozen=True)
class Exercise:
    """One checked code exercise of a notebook: its name and the cells that hold it.

    Book: ch00, section "Grading a class".
    """

    name: str
    answer_cell: int
    check_cell: int


def find_exercises(nb: nbformat.NotebookNode) -> list[Exercise]:
    """The code exercises of ``nb`` (solution or student copy), in notebook order.

    An answer cell is a code cell with a solution region (or the student stub, or
    nbgrader ``solution`` metadata); its exercise is the first following code cell
    that calls ``checks.<name>(...)``. Names repeated in one notebook get ``-2``, ...

    Book: ch00, section "Grading a class".
    """
    found, seen = [], {}
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "code" or not _is_answer_cell(cell):
            continue
        for j in range(i + 1, len(cells)):
            nxt = cells[j]
            if nxt.cell_type != "code":
                continue
            if _is_answer_cell(nxt):
                break
            match = _CHECK_CALL.search(nxt.source)
            if match:
                name = match.group(1)
                seen[name] = seen.get(name, 0) + 1
                if seen[name] > 1:
                    name = f"{name}-{seen[name]}"
                found.append(Exercise(name, i, j))
                break
    return found


def _is_answer_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return (
        BEGIN in cell.source
        or all(line in cell.source for line in STUDENT_STUB)
        or bool(meta.get("solution"))
    )


def add_nbgrader_metadata(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Mark answer and check cells of ``nb`` with nbgrader cell metadata (in place).

    Answer cells become solution cells, check cells locked autograder tests worth one
    point each; ``grade_id`` values are unique within the notebook.

    Book: ch00, section "Grading a class".
    """
    for ex in find_exercises(nb):
        nb.cells[ex.answer_cell].metadata["nbgrader"] = {
            "grade": False, "grade_id": f"{ex.name}-answer", "locked": False,
            "schema_version": NBGRADER_SCHEMA, "solution": True, "task": False,
        }
        nb.cells[ex.check_cell].metadata["nbgrader"] = {
            "grade": True, "grade_id": ex.name, "locked": True, "points": 1,
            "schema_version": NBGRADER_SCHEMA, "solution": False, "task": False,
        }
    return nb


# ----------------------------------------------------------------------------- grading
def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def _error(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = " ".join(str(out.get("evalue", "")).split())
            return f"{out.get('ename', 'Error')}: {value}"[:300]
    return None


def _execute(nb, folder: Path, timeout: float, kernel_name: str) -> str | None:
    """Execute ``nb`` in place; returns why execution stopped early, or None."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, allow_errors=True,
        resources={"metadata": {"path": str(folder)}}, startup_timeout=120,
    )
    try:
        client.execute()
    except CellTimeoutError:
        return f"a cell ran longer than the {timeout:g} s limit"
    except DeadKernelError:
        return "the kernel died (the notebook crashed Python)"
    except Exception as exc:  # nbclient raises several kinds; one notebook must not stop the rest
        return f"execution failed: {type(exc).__name__}: {exc}"[:300]
    return None


def grade_notebook(path: Path, exercises: list[Exercise], timeout: float = 120,
                   kernel_name: str = "python3") -> list[tuple[str, bool, str]]:
    """Execute one submitted notebook; one (exercise, passed, message) per exercise.

    ``exercises`` come from the book's version of the notebook; a submission's cells
    are found again by their nbgrader ``grade_id`` or, failing that, by the check call.

    Book: ch00, section "Grading a class".
    """
    names = [ex.name for ex in exercises]
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # invalid JSON, wrong schema, unreadable file
        reason = f"unreadable notebook: {type(exc).__name__}: {exc}"[:300]
        return [(n, False, reason) for n in names]
    for cell in nb.cells:  # grade what the student wrote, not stale outputs
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    stopped = _execute(nb, path.parent, timeout, kernel_name)
    submitted = {ex.name: ex for ex in find_exercises(nb)}
    by_grade_id = {
        c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)
    }
    rows = []
    for name in names:
        check = by_grade_id.get(name, submitted[name].check_cell if name in submitted else None)
        answer = by_grade_id.get(
            f"{name}-answer", submitted[name].answer_cell if name in submitted else None
        )
        if check is None:
            rows.append((name, False, "check cell missing from the submission"))
            continue
        cell = nb.cells[check]
        stub = answer is not None and all(
            line in nb.cells[answer].source for line in STUDENT_STUB
        )
        error, text = _error(cell), _outputs_text(cell)
        if error is None and "PASSED" in text:
            line = next(x for x in text.splitlines() if "PASSED" in x)
            rows.append((name, True, line.strip()))
        elif stub or (error or "").startswith("NotImplementedError"):
            rows.append((name, False, "not answered (the answer still raises NotImplementedError)"))
        elif error is not None:
            rows.append((name, False, error))
        elif cell.get("execution_count") is None:
            rows.append((name, False, f"check cell never ran: {stopped or 'unknown reason'}"))
        else:
            rows.append((name, False, "the check cell printed no PASSED line"))
    return rows


def grade_submissions(submissions: str | Path, book: str | Path = "book",
                      timeout: float = 120, kernel_name: str = "python3",
                      notebooks: list[str] | None = None):
    """Grade every student folder of ``submissions``; returns (rows, summary rows).

    Each sub-folder is one student; its ``*.ipynb`` files are matched by name with the
    book's notebooks that have checked exercises. The assignment is ``notebooks``
    (file names) or, by default, every such notebook that at least one student
    submitted. A missing notebook fails its exercises with that message; a notebook
    that is not part of the book is reported once with exercise ``-``.

    Book: ch00, section "Grading a class".
    """
    submissions, book = Path(submissions), Path(book)
    if not submissions.is_dir():
        raise NotADirectoryError(f"submissions folder {submissions}: not a directory")
    if not book.is_dir():
        raise NotADirectoryError(f"--book {book}: not a directory")
    assignment = {}
    for path in sorted(book.glob("*.ipynb")):
        exercises = find_exercises(nbformat.read(path, as_version=4))
        if exercises:
            assignment[path.name] = exercises
    if not assignment:
        raise ValueError(f"--book {book}: no notebook there has checked exercises")
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise ValueError(f"submissions folder {submissions}: no student sub-folders")
    if notebooks:
        unknown = sorted(set(notebooks) - set(assignment))
        if unknown:
            raise ValueError(
                f"--notebook {unknown}: not a notebook of {book} with checked exercises "
                f"(those are {sorted(assignment)})"
            )
        assignment = {n: assignment[n] for n in notebooks}
    else:
        submitted_names = {p.name for s in students for p in s.rglob("*.ipynb")}
        chosen = {n: e for n, e in assignment.items() if n in submitted_names}
        if not chosen:
            raise ValueError(
                f"submissions folder {submissions}: no student submitted a notebook named "
                f"like one of the book's exercise notebooks ({sorted(assignment)})"
            )
        assignment = chosen
    rows, summary = [], []
    for student in students:
        got = {p.name: p for p in student.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}
        student_rows = []
        for name, exercises in assignment.items():
            if name not in got:
                student_rows += [(student.name, name, ex.name, False, "notebook not submitted")
                                 for ex in exercises]
                continue
            for ex, passed, msg in grade_notebook(got[name], exercises, timeout, kernel_name):
                student_rows.append((student.name, name, ex, passed, msg))
        for extra in sorted(set(got) - set(assignment)):
            student_rows.append((student.name, extra, "-", False, "not a notebook of the book"))
        rows += student_rows
        graded = [r for r in student_rows if r[2] != "-"]
        submitted = [r for r in graded if r[4] != "notebook not submitted"]
        n_pass = sum(r[3] for r in graded)
        problems = sorted({r[4] for r in submitted if not r[3]})
        summary.append((
            student.name, n_pass, len(graded),
            round(100.0 * n_pass / len(graded), 1) if graded else 0.0,
            "; ".join(problems)[:500],
        ))
    return rows, summary


def write_report(rows, summary, out: str | Path) -> tuple[Path, Path]:
    """Write the per-exercise CSV to ``out`` and the per-student one beside it.

    Book: ch00, section "Grading a class".
    """

    out = Path(out)
    summary_path = out.with_name(out.stem + "_summary" + (out.suffix or ".csv"))
    for path, fields, data in ((out, REPORT_FIELDS, rows), (summary_path, SUMMARY_FIELDS, summary)):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows(data)
        atomic_write(path, buf.getvalue())
    return out, summary_path


# ------------------------------------------------------------------------------ the key
def key_markdown(nb: nbformat.NotebookNode, title: str) -> str:
    """The instructor key of one notebook: prose exercises with solutions, code answers.

    Book: ch00, section "Grading a class".
    """
    lines = [f"# Instructor key: {title}", ""]
    solutions = {}
    exercises = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for m in _EXERCISE_BLOCK.finditer(cell.source):
            body = m.group("body")
            label = re.search(r"^:label:\s*(\S+)", body, re.M)
            text = "\n".join(x for x in body.splitlines() if not x.startswith(":")).strip()
            exercises.append((label.group(1) if label else f"exercise {len(exercises) + 1}", text))
        for m in _SOLUTION_BLOCK.finditer(cell.source):
            target = m.group("arg").strip()
            text = "\n".join(x for x in m.group("body").splitlines() if not x.startswith(":")).strip()
            solutions[target] = text
    for cell in nb.cells:  # solution cells tagged `solution` (whole cells)
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            solutions.setdefault("(solution cells)", "")
            solutions["(solution cells)"] += cell.source + "\n"
    if exercises:
        lines += ["## Prose exercises", ""]
    for label, text in exercises:
        lines += [f"### {label}", "", text, "", "**Solution.**", "",
                  solutions.pop(label, "(no solution block in the chapter)"), ""]
    for label, text in solutions.items():
        lines += [f"### {label}", "", "**Solution.**", "", text, ""]
    code = find_exercises(nb)
    if code:
        lines += ["## Code exercises", ""]
    for ex in code:
        answer = _solution_region(nb.cells[ex.answer_cell].source)
        lines += [f"### {ex.name}", "", f"Checked by `{nb.cells[ex.check_cell].source.strip().splitlines()[-1]}`.",
                  "", "```python", answer, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _solution_region(source: str) -> str:
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside:
            out.append(line)
    return "\n".join(out) if out else source


def write_key(book: str | Path, out_dir: str | Path) -> list[Path]:
    """Write ``<out_dir>/<chapter>.md`` for every chapter with exercises; returns the paths.

    Book: ch00, section "Grading a class".
    """

    book, out_dir = Path(book), Path(out_dir)
    if not book.is_dir():
        raise NotADirectoryError(f"--book {book}: not a directory")
    written = []
    for path in sorted(book.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        text = key_markdown(nb, path.stem)
        if "### " not in text:
            continue
        target = out_dir / f"{path.stem}.md"
        atomic_write(target, text)
        written.append(target)
    return written


# -------------------------------------------------------------------------------- CLI
def _cmd_grade(args) -> int:
    rows, summary = grade_submissions(
        args.submissions, args.book, args.timeout, args.kernel, args.notebook
    )
    out, summary_path = write_report(rows, summary, args.out)
    width = max(len(s[0]) for s in summary)
    for student, n_pass, total, score, _ in summary:
        print(f"{student:<{width}}  {n_pass}/{total} exercises passed ({score:g} %)")
    print(f"report: {out}\nsummary: {summary_path}")
    return 0


def _cmd_key(args) -> int:
    written = write_key(args.book, args.out_dir)
    for path in written:
        print(path)
    print(f"instructor key: {len(written)} chapters written to {args.out_dir}")
    return 0
