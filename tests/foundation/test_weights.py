"""Shipped weights: each file is small and documented by a sidecar naming its command."""

import pytest

from mvk_tutorial.weights import WEIGHTS_DIR, list_weights, weights_path


def test_missing_weights_error_names_file():
    with pytest.raises(FileNotFoundError, match="no_such_model.pt"):
        weights_path("no_such_model")


@pytest.mark.parametrize("path", sorted(WEIGHTS_DIR.glob("*.pt")), ids=lambda p: p.name)
def test_shipped_weights_are_small_and_documented(path):
    assert path.stat().st_size < 10 * 2**20, f"{path.name} is over 10 MB"
    sidecar = path.with_suffix(".md")
    assert sidecar.is_file(), f"{path.name} has no sidecar {sidecar.name}"
    text = sidecar.read_text().lower()
    assert "mvk train" in text or "python -m" in text, f"{sidecar.name}: no command"
    assert "seed" in text, f"{sidecar.name}: no seed"
    assert weights_path(path.stem) == path
    assert path.stem in {w["name"] for w in list_weights()}
