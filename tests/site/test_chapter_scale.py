"""Every chapter reads the one MVK_SCALE switch (chapter 0, section "CPU and GPU modes").

Each chapter notebook must import ``scaled`` from ``mvk_tutorial.utils`` (or its
``scale`` module), assign ``cfg = scaled(cpu=dict(...), full=dict(...))`` in a code
cell with the same keys at both scales, read ``cfg[...]`` in a later code cell, and
say in a markdown cell what it reproduces "At full scale". A failure names the
notebook and what it lacks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "book").glob("ch[0-9][0-9]_*.ipynb"))


def _code(cell) -> str:
    # IPython magics and shell lines are not Python: blank them out, keep line numbers.
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in cell.source.splitlines())


def _trees(nb):
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            yield i, ast.parse(_code(cell))


def _imports_scaled(tree) -> bool:
    return any(isinstance(n, ast.ImportFrom) and n.module in ("mvk_tutorial.utils", "mvk_tutorial.utils.scale")
               and any(a.name == "scaled" for a in n.names) for n in ast.walk(tree))


def _cfg_assignment(tree):
    """The ``scaled(...)`` call assigned to ``cfg`` in ``tree``, or None."""
    for n in ast.walk(tree):
        if (isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "cfg" for t in n.targets)
                and isinstance(n.value, ast.Call) and getattr(n.value.func, "id", None) == "scaled"):
            return n.value
    return None


def _dict_keys(node) -> set[str] | None:
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dict" and not node.args:
        return {k.arg for k in node.keywords}
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.keys):
        return {k.value for k in node.keys}
    return None


def _reads_cfg(tree) -> bool:
    return any(isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == "cfg"
               for n in ast.walk(tree))


def test_there_are_chapters():
    assert len(CHAPTERS) >= 11, [p.name for p in CHAPTERS]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_reads_the_scale_switch(path):
    nb = nbformat.read(path, as_version=4)
    trees = list(_trees(nb))
    assert any(_imports_scaled(t) for _, t in trees), (
        f"{path.name}: no code cell imports `scaled` from mvk_tutorial.utils (MVK_SCALE switch)")
    found = [(i, _cfg_assignment(t)) for i, t in trees if _cfg_assignment(t) is not None]
    assert found, f"{path.name}: no settings cell `cfg = scaled(cpu=dict(...), full=dict(...))`"
    i, call = found[0]
    kw = {k.arg: k.value for k in call.keywords}
    assert set(kw) == {"cpu", "full"}, f"{path.name}: scaled() in cell {i} must get cpu=... and full=..."
    cpu, full = _dict_keys(kw["cpu"]), _dict_keys(kw["full"])
    assert cpu is not None and full is not None, f"{path.name}: cpu= and full= must be dict(...) literals"
    assert cpu == full, f"{path.name}: cpu and full settings differ in keys {sorted(cpu ^ full)}"
    assert any(_reads_cfg(t) for j, t in trees if j > i), (
        f"{path.name}: no code cell after the settings cell reads cfg[...]")
    assert any(c.cell_type == "markdown" and "At full scale" in c.source for c in nb.cells), (
        f'{path.name}: no markdown paragraph "At full scale" saying what the chapter then reproduces')
