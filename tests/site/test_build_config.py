"""The repository URL of the launch buttons is a setting of `make book` (MVK_REPO_URL).

The Makefile writes the build's copy of _config.yml with sed; this runs exactly the sed
command that `make -n book` prints (nothing else is run) and reads the result back.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _build_config(tmp_path: Path, *make_args: str) -> dict:
    if shutil.which("make") is None:
        pytest.skip("GNU make is not installed: the Makefile cannot be read")
    dry = subprocess.run(["make", "-n", "book", *make_args], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    match = re.search(r"^sed .*?_build/_config\.build\.yml$", dry, flags=re.S | re.M)
    assert match, f"make -n book prints no sed command writing _build/_config.build.yml:\n{dry}"
    out = tmp_path / "config.yml"
    command = match.group(0).replace("_build/_config.build.yml", str(out))
    subprocess.run(["bash", "-c", command], cwd=ROOT, check=True)
    return yaml.safe_load(out.read_text())


def test_default_repository_is_the_documented_one(tmp_path):
    cfg = _build_config(tmp_path)
    source = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["repository"]["url"] == source["repository"]["url"]
    assert cfg["repository"]["url"].startswith("https://github.com/")
    assert cfg["repository"]["branch"] == "main"
    assert "MVK_REPO_URL" in (ROOT / "README.md").read_text()


def test_repository_url_branch_and_execution_are_settings(tmp_path):
    cfg = _build_config(tmp_path, "MVK_REPO_URL=https://example.org/someone/book.git",
                        "MVK_REPO_BRANCH=spring-2027", "EXECUTE=off")
    assert cfg["repository"]["url"] == "https://example.org/someone/book.git"
    assert cfg["repository"]["branch"] == "spring-2027"
    assert cfg["execute"]["execute_notebooks"] in ("off", False)  # YAML 1.1 reads off as false
    # nothing else moved: the launch buttons still point at Binder and Colab
    source = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["launch_buttons"] == source["launch_buttons"]
    assert cfg["launch_buttons"]["binderhub_url"] and cfg["launch_buttons"]["colab_url"]
    assert {k: v for k, v in cfg.items() if k not in ("repository", "execute")} == {
        k: v for k, v in source.items() if k not in ("repository", "execute")}
