"""Shared helpers for the chapter-3 tests: the official fixtures stored in the repo."""

from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "variants"


@pytest.fixture
def official():
    """Load an official-code fixture by name; a missing file is a failure, not a skip."""

    def load(name: str) -> dict:
        path = FIXTURES / f"{name}_official_reference.pt"
        assert path.is_file(), f"missing fixture {path}"
        return torch.load(path, weights_only=True)

    return load
