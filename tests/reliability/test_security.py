"""Security and data safety: untrusted checkpoints and names never run or escape."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mvk_tutorial.utils.paths import check_decodable_path, safe_component


class _Evil:
    """Unpickling this calls open(marker, "w"): code execution, visible as a file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_malicious_checkpoint_is_refused_and_never_executed(tmp_path):
    from mvk_tutorial.vos.deaot import build_deaot
    from mvk_tutorial.vos.deaot.checkpoint import load_official_checkpoint

    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.pth"
    torch.save({"state_dict": {"x": _Evil(marker)}}, ckpt)
    with pytest.raises(ValueError, match=r"evil\.pth: not a loadable checkpoint"):
        load_official_checkpoint(build_deaot("deaot-t"), ckpt)
    assert not marker.exists(), "the checkpoint's pickle ran code"


def test_no_weights_only_false_in_the_package():
    root = Path(__file__).resolve().parents[2] / "mvk_tutorial"
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "weights_only=False" in p.read_text().replace(" ", "")
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "name", ["../../evil", "a/b", "..", ".", "", "/abs", "a\\b", "x\x00y", "tab\tname"]
)
def test_safe_component_rejects(name):
    with pytest.raises(ValueError, match=r"val\.txt, line 3"):
        safe_component(name, "val.txt", 3)


@pytest.mark.parametrize("name", ["bear", "manta-e", "0001_00016", "a.b", "ünïcode"])
def test_safe_component_accepts(name):
    assert safe_component(name, "val.txt", 1) == name


def _davis(tmp_path: Path, names: list[str]) -> Path:
    from mvk_tutorial.vos.data import write_mask

    root = tmp_path / "DAVIS"
    for n in ["good"]:
        write_mask(root / "Annotations/480p" / n / "00000.png", np.zeros((4, 4), np.uint8))
    (root / "ImageSets/2017").mkdir(parents=True)
    (root / "ImageSets/2017/val.txt").write_text("\n".join(names) + "\n")
    return root


def test_imagesets_traversal_is_rejected_with_file_and_line(tmp_path):
    from mvk_tutorial.vos.data import list_sequences

    root = _davis(tmp_path, ["good", "../../evil"])
    (tmp_path / "evil").mkdir()  # would even "exist" relative to Annotations/480p
    with pytest.raises(ValueError, match=r"val\.txt, line 2: name '\.\./\.\./evil'"):
        list_sequences(root)


def test_cli_stops_at_a_traversing_name(tmp_path, capsys):
    # the CLIs read names through list_sequences: the traversal stops before any write
    from mvk_tutorial.cli import main

    root = _davis(tmp_path, ["../../../escaped"])
    rc = main(["vos", "eval", "--davis-root", str(root), "--results", str(tmp_path)])
    assert rc != 0 and "val.txt, line 1" in capsys.readouterr().err


def test_youtube_vos_meta_traversal_is_rejected(tmp_path):
    from mvk_tutorial.vos.data import YouTubeVOS

    split = tmp_path / "valid"
    split.mkdir()
    meta = {"videos": {"ok": {"objects": {}}, "../x": {"objects": {}}}}
    (split / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"meta\.json.*'\.\./x'"):
        YouTubeVOS(tmp_path)


def test_evaluate_rejects_traversal_in_sequences_argument(tmp_path):
    from mvk_tutorial.vos import evaluation

    root = _davis(tmp_path, ["good"])
    with pytest.raises(ValueError, match=r"sequences argument, line 1"):
        evaluation.evaluate(root, tmp_path, sequences=["../good"])


def test_non_utf8_path_reported_as_bad_name():
    bad = b"videos/caf\xe9".decode("utf-8", "surrogateescape")
    with pytest.raises(ValueError, match="bad file name"):
        check_decodable_path(bad, "video")
    with pytest.raises(ValueError, match="bad file name"):
        check_decodable_path(b"videos/caf\xe9", "video")
    assert check_decodable_path("videos/café") == Path("videos/café")


def test_official_checkpoint_layout_loads_with_weights_only(tmp_path):
    # aot-benchmark saves {'state_dict': net.state_dict(), 'optimizer': opt.state_dict()}
    # (DataParallel prefixes 'module.'): all of it loads without unpickling code
    from mvk_tutorial.vos.deaot import build_deaot
    from mvk_tutorial.vos.deaot.checkpoint import load_official_checkpoint

    src = build_deaot("deaot-t")
    opt = torch.optim.AdamW(src.parameters(), lr=1e-4)
    ckpt = tmp_path / "save_step_100000.pth"
    torch.save(
        {"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()},
         "optimizer": opt.state_dict()},
        ckpt,
    )
    dst = load_official_checkpoint(build_deaot("deaot-t"), ckpt)
    for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert torch.equal(a, b), k
