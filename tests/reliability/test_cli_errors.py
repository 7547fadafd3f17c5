"""The ``mvk`` command: clean one-line errors and exit codes, fast start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from mvk_tutorial import cli


def _run_with(monkeypatch, capsys, exc):
    import mvk_tutorial.vos.cli_eval as cli_eval

    def boom(args):
        raise exc

    monkeypatch.setattr(cli_eval, "run_eval", boom)  # register() binds it anew
    code = cli.main(["vos", "eval", "--davis-root", "x", "--results", "y"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "exc, code, text",
    [
        (PermissionError(13, "Permission denied", "/data/out.csv"), 2, "/data/out.csv"),
        (FileExistsError(17, "File exists", "/data/w.pt"), 2, "/data/w.pt"),
        (IsADirectoryError(21, "Is a directory", "/data/x"), 2, "/data/x"),
        (RuntimeError("shard 3 of /c/image is corrupt"), 1, "shard 3"),
        (KeyboardInterrupt(), 130, "interrupted"),
        (ValueError("f.csv, line 2: expected 4 fields"), 2, "line 2"),
    ],
)
def test_errors_give_one_line_and_an_exit_code(monkeypatch, capsys, exc, code, text):
    got, err = _run_with(monkeypatch, capsys, exc)
    assert got == code
    assert err.startswith("mvk vos eval: ") and text in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_help_is_fast_and_loads_no_torch():
    code = (
        "import sys, time; t = time.perf_counter(); from mvk_tutorial import cli; "
        "cli.build_parser(); "
        "print(time.perf_counter() - t, 'torch' in sys.modules, 'torchvision' in sys.modules, "
        "'nbformat' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    # nbformat (through jsonschema's format checkers) alone takes about a second to import
    assert out[1:] == ["False", "False", "False"], "building the parser imported torch or nbformat"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mvk_tutorial.cli", "kis", "run", "--help"],
                   check=True, capture_output=True)
    assert time.perf_counter() - t0 < 3.0  # ~0.5 s; generous for a shared CPU
    assert float(out[0]) < 1.0


def test_unwritable_results_folder_fails_before_scoring(monkeypatch, tmp_path, capsys):
    import mvk_tutorial.vos.evaluation as evaluation

    called = []
    monkeypatch.setattr(evaluation, "evaluate", lambda *a, **k: called.append(1))
    results = tmp_path / "results"
    (results / "global_results-val.csv").mkdir(parents=True)  # cannot be written
    code = cli.main(["vos", "eval", "--davis-root", str(tmp_path), "--results",
                     str(results)])
    assert code == 2 and not called
    assert "global_results-val.csv: is a folder" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_results_folder_fails_before_scoring(monkeypatch, tmp_path, capsys):
    import mvk_tutorial.vos.evaluation as evaluation

    called = []
    monkeypatch.setattr(evaluation, "evaluate", lambda *a, **k: called.append(1))
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o555)
    try:
        code = cli.main(["vos", "eval", "--davis-root", str(tmp_path), "--results",
                         str(results)])
    finally:
        results.chmod(0o755)
    assert code == 2 and not called and "cannot write" in capsys.readouterr().err
