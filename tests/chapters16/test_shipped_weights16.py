"""The shipped cnn_tiny_mvk and vit_tiny_mvk: small, documented, with learning curves,
and their recorded held-out accuracy reproduces on the data they name."""

import json
from pathlib import Path

import pytest
import torch

from mvk_tutorial.attention import train_vit
from mvk_tutorial.attention.cnn import load_cnn
from mvk_tutorial.attention.vit import load_vit

WEIGHTS = Path(train_vit.__file__).resolve().parents[1] / "weights"
MODELS = {"cnn_tiny_mvk": (load_cnn, "mvk train cnn"), "vit_tiny_mvk": (load_vit, "mvk train vit")}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_weights_are_small_documented_and_have_a_curve(name):
    loader, command = MODELS[name]
    path = WEIGHTS / f"{name}.pt"
    assert path.is_file(), f"{path} missing: train it with `{command}`"
    assert path.stat().st_size < 10 * 2**20
    model, meta = loader(path)
    md = path.with_suffix(".md").read_text()
    side = json.loads(path.with_suffix(".json").read_text())
    assert command in md and "preset `book`" in md and side["command"].startswith(command)
    acc = meta["metrics"]["heldout_accuracy"]
    assert f"{acc:.3f}" in md and side["metrics"]["heldout_accuracy"] == acc
    assert acc > meta["metrics"]["majority_baseline"]
    curve = side["learning_curve"]
    assert [h["epoch"] for h in curve] == list(range(1, side["train_config"]["epochs"] + 1))
    assert side["data"]["generator_version"] == meta["data"]["generator_version"]
    assert model(torch.zeros(1, 3, *model.cfg.img_size)).shape == (1, 9)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_weights_reproduce_their_heldout_accuracy(name):
    from mvk_tutorial.mvk.labels import load_manifest
    from mvk_tutorial.mvk.synthetic import ensure_mvk_mini

    loader, command = MODELS[name]
    model, meta = loader(WEIGHTS / f"{name}.pt")
    root = ensure_mvk_mini("book")
    version = load_manifest(root)["generator_version"]
    if version != meta["data"]["generator_version"]:
        pytest.skip(f"{name} was trained on MVK-mini v{meta['data']['generator_version']}, "
                    f"the data here are v{version}: retrain with `{command}`")
    data = train_vit.prepare_data(root, model.cfg.img_size)
    x = train_vit.normalize(data["images"][data["held_idx"]], meta["mean"], meta["std"])
    m = train_vit.evaluate(model, x, data["labels"][data["held_idx"]], 9)
    assert m["accuracy"] == pytest.approx(meta["metrics"]["heldout_accuracy"], abs=1e-3)
    assert torch.equal(m["confusion"], meta["confusion_heldout"])
