"""``mvk train deaot|aot`` registration, exporting weights + sidecar, scoring, shipped."""

import json

import pytest
import torch

from mvk_tutorial.cli import build_parser
from mvk_tutorial.vos.train import build_model
from mvk_tutorial.vos.train_eval import evaluate_model, export_weights


@pytest.mark.parametrize("family", ["deaot", "aot"])
def test_train_commands_are_registered(family):
    args = build_parser().parse_args(["train", family, "--out", "run", "--steps", "3"])
    assert args.steps == 3 and args.out == "run" and callable(args.func)


def test_export_roundtrip_weights_only(tmp_path):
    torch.manual_seed(0)
    model = build_model("deaot-mini")
    path = export_weights(model, tmp_path / "m.pt", {"model": "deaot-mini", "seed": 0,
                                                    "eval": {"global": {"J&F-Mean": 0.5}}})
    state = torch.load(path, map_location="cpu", weights_only=True)
    fresh = build_model("deaot-mini")
    fresh.load_state_dict(state, strict=True)
    for k, v in model.state_dict().items():
        assert torch.equal(v, fresh.state_dict()[k])
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["bytes"] == path.stat().st_size and side["bytes"] < 10e6
    assert "J&F-Mean 0.500" in path.with_suffix(".md").read_text()


def test_evaluate_model_scores_every_frame(mini_davis):
    from mvk_tutorial.vos.data import list_sequences, load_sequence

    torch.manual_seed(0)
    name = list_sequences(mini_davis, "2017", "val")[0]
    out = evaluate_model(build_model("deaot-mini"), mini_davis, sequences=[name],
                         max_long_edge=200)
    assert set(out["per_sequence"]) == {name}
    assert out["frames"] == len(load_sequence(mini_davis, name).frames) - 1
    assert 0.0 <= out["global"]["J&F-Mean"] <= 1.0


def test_shipped_names_are_checked():
    from mvk_tutorial.vos.shipped import shipped_weights

    with pytest.raises(ValueError, match="deaot-mini"):
        shipped_weights("deaot-t")
