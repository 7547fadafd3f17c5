"""MVK_SCALE: one switch between the CPU settings and the full ones."""

import pytest

from mvk_tutorial.utils import get_scale, is_full_scale, scaled
from mvk_tutorial.utils.scale import describe, full_scale_path


def test_default_is_cpu(monkeypatch):
    monkeypatch.delenv("MVK_SCALE", raising=False)
    assert get_scale() == "cpu" and not is_full_scale()
    assert scaled(cpu={"n": 1}, full={"n": 2}) == {"n": 1}


@pytest.mark.parametrize("value", ["full", "FULL", " full "])
def test_full(monkeypatch, value):
    monkeypatch.setenv("MVK_SCALE", value)
    assert is_full_scale()
    assert scaled(cpu=64, full=50_000) == 50_000
    assert describe({"n": 3}) == "scale: full (n=3)"


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("MVK_SCALE", "gpu")
    with pytest.raises(ValueError, match="MVK_SCALE='gpu'.*cpu, full"):
        get_scale()


def test_settings_must_have_the_same_keys(monkeypatch):
    monkeypatch.delenv("MVK_SCALE", raising=False)
    with pytest.raises(ValueError, match=r"\['depth'\]"):
        scaled(cpu={"width": 1}, full={"width": 2, "depth": 3})


def test_full_scale_path(monkeypatch, tmp_path):
    monkeypatch.delenv("MVK_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="MVK_DATA.*the MVK folder"):
        full_scale_path("MVK_DATA", "the MVK folder")
    monkeypatch.setenv("MVK_DATA", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        full_scale_path("MVK_DATA", "the MVK folder")
    monkeypatch.setenv("MVK_DATA", str(tmp_path))
    assert full_scale_path("MVK_DATA", "the MVK folder") == tmp_path
