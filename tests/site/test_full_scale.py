"""MVK_SCALE=full without the real data or a GPU stops with a clear error, and downloads nothing.

A chapter's first cells (imports, settings, the cell that finds its data) run in a real
kernel with ``MVK_SCALE=full`` and no ``MVK_DATA``: the data cell must raise the
``FileNotFoundError`` of ``full_scale_path`` naming ``MVK_DATA``. Chapter 3 asks for CUDA
in its settings cell at full scale; without a GPU that cell must raise the
``ValueError`` of ``get_device`` naming the device.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"


def _run_until(path: Path, needle: str, monkeypatch) -> CellExecutionError | None:
    """Execute ``path`` from its first cell to the first code cell containing ``needle``."""
    nb = nbformat.read(path, as_version=4)
    stop = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and needle in c.source)
    nb.cells = nb.cells[: stop + 1]
    monkeypatch.setenv("MVK_SCALE", "full")
    monkeypatch.delenv("MVK_DATA", raising=False)
    monkeypatch.delenv("MVK_WEIGHTS", raising=False)
    monkeypatch.delenv("MVK_DEVICE", raising=False)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(BOOK)}})
    try:
        client.execute()
    except CellExecutionError as err:
        return err
    return None


@pytest.mark.slow
@pytest.mark.parametrize("chapter, needle", [
    ("ch07_vos_task_data_metrics.ipynb", "list_sequences(davis"),
    ("ch10_known_item_search.ipynb", "caps = load_captions(root)"),
])
def test_full_scale_without_data_names_mvk_data(chapter, needle, monkeypatch):
    err = _run_until(BOOK / chapter, needle, monkeypatch)
    assert err is not None, f"{chapter}: ran at MVK_SCALE=full without MVK_DATA"
    assert err.ename == "FileNotFoundError", (chapter, err.ename, err.evalue)
    assert "MVK_SCALE=full needs MVK_DATA" in err.evalue, (chapter, err.evalue)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: ch03 runs at full scale")
def test_full_scale_without_a_gpu_says_so(monkeypatch):
    err = _run_until(BOOK / "ch03_variants.ipynb", 'dev = get_device(cfg["device"])', monkeypatch)
    assert err is not None and err.ename == "ValueError", err
    assert "cuda" in err.evalue.lower(), err.evalue
