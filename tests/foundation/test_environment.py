"""environment.yml names the same dependencies as pyproject.toml (with the same ranges)."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")


def _norm(requirement: str) -> tuple[str, str]:
    requirement = requirement.split("#")[0].strip().replace(" ", "")
    name = re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower(), requirement[len(name) :]


def _pyproject_requirements() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"]["optional-dependencies"].values():
        reqs += extra
    return dict(_norm(r) for r in reqs)


def _environment_requirements() -> dict[str, str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    reqs = []
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if not stripped.startswith("- "):
            break
        reqs.append(stripped[2:])
    return dict(_norm(r) for r in reqs)


def test_environment_yml_matches_pyproject():
    assert _environment_requirements() == _pyproject_requirements()


def test_pyproject_uses_ranges_not_pins():
    for name, spec in _pyproject_requirements().items():
        assert "==" not in spec, f"{name} is pinned exactly ({spec}); use a range"
