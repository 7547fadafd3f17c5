"""Shared fixtures of the MVK tests: one tiny MVK-mini collection per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def mini_root(tmp_path_factory):
    """An MVK-mini collection of preset "test" generated once into a temporary folder."""
    from mvk_tutorial.mvk.synthetic import ensure_mvk_mini

    return ensure_mvk_mini("test", root=tmp_path_factory.mktemp("mvk_cache"))
