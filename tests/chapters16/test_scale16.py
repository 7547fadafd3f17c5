"""ch02 and ch09 read MVK_SCALE; at full scale ch09 stops with the clear error of
full_scale_path when MVK_DATA is missing (it never falls back to MVK-mini)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

BOOK = Path(__file__).resolve().parents[2] / "book"


def _run_first_cells(name, until, env, monkeypatch):
    nb = nbformat.read(BOOK / name, as_version=4)
    stop = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and until in c.source)
    nb.cells = nb.cells[: stop + 1]
    for key in ("MVK_DATA", "MVK_WEIGHTS", "MVK_DEVICE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(BOOK)}})
    try:
        client.execute()
    except CellExecutionError as err:
        return err, nb
    return None, nb


@pytest.mark.slow
def test_ch09_at_full_scale_without_mvk_data_names_it(monkeypatch):
    err, _ = _run_first_cells("ch09_mvk_dataset.ipynb", "cfg = scaled(", {"MVK_SCALE": "full"},
                              monkeypatch)
    assert err is not None and err.ename == "FileNotFoundError", err
    assert "MVK_SCALE=full needs MVK_DATA" in err.evalue


@pytest.mark.slow
def test_ch09_at_full_scale_with_a_missing_folder_names_it(monkeypatch, tmp_path):
    err, _ = _run_first_cells("ch09_mvk_dataset.ipynb", "cfg = scaled(",
                              {"MVK_SCALE": "full", "MVK_DATA": str(tmp_path / "nowhere")},
                              monkeypatch)
    assert err is not None and err.ename == "FileNotFoundError", err
    assert "MVK_DATA=" in err.evalue and "does not exist" in err.evalue


@pytest.mark.slow
def test_ch02_settings_differ_by_scale(monkeypatch):
    for scale, steps in (("cpu", "short_run_steps=80"), ("full", "short_run_steps=2000")):
        err, nb = _run_first_cells("ch02_vit.ipynb", "cfg = scaled(", {"MVK_SCALE": scale},
                                   monkeypatch)
        assert err is None, err
        out = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        assert f"scale: {scale}" in out and steps in out, out
