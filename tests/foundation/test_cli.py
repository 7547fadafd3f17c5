"""The `mvk` command: groups, version, clean errors."""

import subprocess
import sys

import pytest

from mvk_tutorial import __version__
from mvk_tutorial.cli import GROUPS, build_parser, main


def test_every_group_has_help():
    parser = build_parser()
    for group in GROUPS:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([group, "--help"])
        assert exc.value.code == 0


def test_version_from_console_script():
    out = subprocess.run(
        [sys.executable, "-m", "mvk_tutorial.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"mvk {__version__}"


def test_missing_group_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_bad_input_gives_clean_error(tmp_path, capsys):
    missing = tmp_path / "no-book"
    status = main(["exercises", "build", str(tmp_path / "out"), "--book", str(missing)])
    assert status == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "not a directory" in err
