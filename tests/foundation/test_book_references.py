"""Every "Book: chNN ..." reference in the package's docstrings points at the book.

The house form is ``Book: ch03, section "Deformable attention".``: the chapter must
exist (``book/chNN_*.ipynb`` or, while a chapter is still a placeholder, ``.md``), and
every quoted text after ``Book:`` must be a heading of one of the chapters the reference
names (any level, without the #'s; a chapter title may omit its "3. " number; ``$``,
backticks and emphasis marks are ignored) or the
title of one of their ``{exercise}`` blocks. Older forms (``Book: ch08 "Title"
(section "X")``) are read the same way.
"""

import ast
import re
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mvk_tutorial"
BOOK = ROOT / "book"

_REF = re.compile(r"Book:(?P<ref>.*?)(?:\n\s*\n|\Z)", re.S)
_CHAPTER = re.compile(r"\bch(\d\d)\b")
_QUOTED = re.compile(r'"([^"]+)"')
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_EXERCISE_TITLE = re.compile(r"^(?:`{3,}|:{3,})\{exercise\}[ \t]*(\S[^\n]*)$", re.M)
_CODE_FENCE = re.compile(r"^(`{3,}).*?^\1", re.M | re.S)


def _chapter_file(number: str) -> Path | None:
    found = sorted(BOOK.glob(f"ch{number}_*.ipynb")) or sorted(BOOK.glob(f"ch{number}_*.md"))
    return found[0] if found else None


@lru_cache(maxsize=None)
def chapter_targets(number: str) -> frozenset:
    """Headings (and exercise titles) of chapter ``number``, normalised."""
    path = _chapter_file(number)
    if path is None:
        return frozenset()
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    else:
        text = path.read_text()
    text = _CODE_FENCE.sub(lambda m: m.group(0) if "{exercise}" in m.group(0) else "", text)
    targets = set()
    for heading in _HEADING.findall(text):
        heading = _normalise(heading)
        targets.add(heading)
        targets.add(re.sub(r"^\d+(\.\d+)*\.?\s+", "", heading))  # "3. Title" -> "Title"
    targets |= {_normalise(t) for t in _EXERCISE_TITLE.findall(text)}
    return frozenset(targets)


def _normalise(text: str) -> str:
    text = re.sub(r"\{[a-z:]+\}`([^`]*)`", r"\1", text)  # MyST roles: {cite}`x` -> x
    text = text.replace("`", "").replace("*", "").replace("$", "")
    return " ".join(text.split())


def _docstrings():
    """(where, docstring) for every module, class and function docstring of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT)
        tree = ast.parse(path.read_text(), filename=str(rel))
        nodes = [tree] + [
            n for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        ]
        for node in nodes:
            doc = ast.get_docstring(node)
            if doc and "Book:" in doc:
                name = getattr(node, "name", "<module>")
                yield f"{rel}:{getattr(node, 'lineno', 1)} {name}", doc


def _references():
    for where, doc in _docstrings():
        for m in _REF.finditer(doc):
            yield where, " ".join(m.group("ref").split())


REFERENCES = list(_references())


def test_the_package_has_book_references():
    assert len(REFERENCES) > 100, len(REFERENCES)


def _problems(where: str, ref: str) -> list[str]:
    chapters = _CHAPTER.findall(ref)
    if not chapters:
        return [f"{where}: 'Book:{ref}' names no chapter (chNN)"]
    problems = [f"{where}: ch{c} does not exist in book/" for c in chapters if not _chapter_file(c)]
    targets = set().union(*(chapter_targets(c) for c in chapters))
    for quoted in _QUOTED.findall(ref):
        if _normalise(quoted) not in targets:
            problems.append(
                f"{where}: \"{quoted}\" is not a heading of {', '.join('ch' + c for c in chapters)}"
            )
    return problems


def test_every_reference_names_an_existing_chapter_and_heading():
    problems = [p for where, ref in REFERENCES for p in _problems(where, ref)]
    assert not problems, f"{len(problems)} dead book references:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "ref, ok",
    [
        (' ch00, section "Setting up: the two commands".', True),
        (' ch00, section "A heading that is not there".', False),
        (' ch00 "How to use this book".', True),  # a chapter title without its number
        (' ch99, section "Anything".', False),
        (" the chapter on attention.", False),
    ],
)
def test_the_checker_itself(ref, ok):
    assert (not _problems("x", ref)) == ok
