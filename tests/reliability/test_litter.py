"""No litter: killed runs' temporaries are cleaned, identical runs give identical files."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mvk_tutorial.utils import atomic_path, atomic_write

PKG = Path(__file__).resolve().parents[2] / "mvk_tutorial"


def test_identical_saves_are_byte_identical(tmp_path):
    state = {"w": torch.arange(6.0).view(2, 3), "b": torch.ones(3)}
    files = []
    for run in ("a", "b"):
        out = tmp_path / run / "weights.pt"
        with atomic_path(out) as tmp:
            torch.save(state, tmp)
        files.append(out.read_bytes())
    direct = tmp_path / "direct" / "weights.pt"
    direct.parent.mkdir()
    torch.save(state, direct)
    assert files[0] == files[1] == direct.read_bytes()


def test_atomic_path_leaves_nothing_behind(tmp_path):
    out = tmp_path / "x.txt"
    atomic_write(out, "one")
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert out.read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_synth_temporaries_are_removed(tmp_path, monkeypatch):
    import os

    from mvk_tutorial.mvk import synthetic

    out = tmp_path / "mini"
    dead = tmp_path / f".mini.tmp-{_dead_pid()}-deadbeef"
    alive = tmp_path / f".mini.tmp-{os.getpid()}-0000beef"
    for d in (dead, alive):
        (d / "videos").mkdir(parents=True)

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "write_collection", killed)
    with pytest.raises(KeyboardInterrupt):
        synthetic.generate_mvk_mini(out, synthetic.PRESETS["test"], progress=False)
    assert not dead.exists(), "a killed run's temporary folder was left"
    assert alive.exists(), "a running generation's folder must be kept"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [alive.name]  # its own is gone too


def _module_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_writer_and_synthetic_do_not_import_each_other():
    writer = _module_level_imports(PKG / "mvk" / "writer.py")
    synth = _module_level_imports(PKG / "mvk" / "synthetic.py")
    assert "mvk_tutorial.mvk.synthetic" not in writer
    assert "mvk_tutorial.mvk.writer" in synth  # one direction only


def test_stale_tmp_png_does_not_block_eval(tmp_path):
    from mvk_tutorial.vos import evaluation
    from mvk_tutorial.vos.synthetic_davis import make_synthetic_davis

    davis, results = make_synthetic_davis(tmp_path, num_sequences=1, num_frames=5,
                                          size=(32, 48), seed=1)
    before = evaluation.evaluate(davis, results, progress=False).global_scores
    (results / "synth-000" / ".00002.x1y2.tmp.png").write_bytes(b"")  # killed write
    with pytest.warns(UserWarning, match="interrupted write"):
        after = evaluation.evaluate(davis, results, progress=False).global_scores
    assert after == before
    np.testing.assert_equal(list(after.values()), list(before.values()))


def test_weights_dir_is_defined_once():
    import re

    defs = [
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if re.search(r"^WEIGHTS_DIR\s*=", p.read_text(), re.M)
    ]
    assert defs == ["weights/__init__.py"]
    from mvk_tutorial.attention import vit
    from mvk_tutorial.retrieval import clip
    from mvk_tutorial.weights import WEIGHTS_DIR

    assert vit.WEIGHTS_DIR is WEIGHTS_DIR and clip.WEIGHTS_DIR is WEIGHTS_DIR


def test_plotting_lives_in_viz_and_old_paths_still_work():
    from mvk_tutorial.attention import plots
    from mvk_tutorial.retrieval import search
    from mvk_tutorial.viz import attention as viz_attention
    from mvk_tutorial.viz import search as viz_search

    assert plots.plot_attention_heatmap is viz_attention.plot_attention_heatmap
    assert search.show_results is viz_search.show_results
    assert search.search_box is viz_search.search_box
    outside = [
        str(p.relative_to(PKG))
        for p in PKG.rglob("*.py")
        if "matplotlib" in p.read_text() and p.parts[-2] != "viz"
        and "for matplotlib" not in p.read_text()
    ]
    assert outside == []


def test_package_modules_import_their_package_dependencies_at_the_top():
    # CLI modules import lazily on purpose (fast start-up); vos/deaot/segment.py is
    # being restructured in another change and is listed until then.
    allowed = {"vos/deaot/segment.py"}
    found = []
    for p in PKG.rglob("*.py"):
        rel = str(p.relative_to(PKG))
        if p.name.startswith("cli") or p.name in ("exercises.py", "notebook_exec.py") or rel in allowed:
            continue
        for f in ast.walk(ast.parse(p.read_text())):
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for s in ast.walk(f):
                    if isinstance(s, ast.ImportFrom) and (s.module or "").startswith("mvk_tutorial"):
                        found.append(f"{rel}:{s.lineno} {s.module}")
    assert found == []
