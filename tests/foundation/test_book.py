"""The book's structure and the hygiene of the committed notebooks."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [c["file"] for c in part["chapters"]]
    return files


def test_toc_entries_exist_exactly_once():
    for entry in _toc_files():
        found = [ROOT / f"{entry}{ext}" for ext in (".md", ".ipynb")]
        present = [p.name for p in found if p.exists()]
        assert len(present) == 1, f"_toc.yml entry {entry}: found {present or 'nothing'}"


def test_every_notebook_is_in_the_toc():
    listed = set(_toc_files())
    for path in NOTEBOOKS:
        assert f"book/{path.stem}" in listed, f"{path.name} is not in _toc.yml"


def test_outline_has_the_three_parts():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    captions = " ".join(p["caption"] for p in toc["parts"])
    for word in ("Attention", "Video object segmentation", "Marine Video Kit"):
        assert word in captions


def test_citations_resolve():
    bib = (BOOK / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    sources = [p.read_text() for p in BOOK.glob("*.md")] + [
        "\n".join(c.source for c in nbformat.read(p, as_version=4).cells)
        for p in NOTEBOOKS
    ]
    used = set()
    for text in sources:
        for group in re.findall(r"\{cite[pt]?\}`([^`]+)`", text):
            used |= {k.strip() for k in group.split(",")}
    assert used, "the book cites nothing"
    assert used <= keys, f"cited but not in references.bib: {sorted(used - keys)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_executed_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert any(c.outputs for c in code), f"{path.name} has no outputs: execute it"
    counts = [c.execution_count for c in code if c.execution_count is not None]
    assert counts == sorted(counts), f"{path.name}: cells were not run top to bottom"
    for i, cell in enumerate(code):
        tags = cell.metadata.get("tags", [])
        for out in cell.outputs:
            if out.output_type == "error":
                assert "raises-exception" in tags, f"{path.name}: stored error in cell {i}"
            assert "image/svg+xml" not in out.get("data", {}), f"{path.name}: SVG output"
