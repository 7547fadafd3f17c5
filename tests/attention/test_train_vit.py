"""mvk train vit: split by video, resumable training, CLI, and the shipped weights."""

from pathlib import Path

import pytest
import torch

from mvk_tutorial.attention import train_vit
from mvk_tutorial.attention.train_vit import TrainConfig, fit, split_by_video
from mvk_tutorial.attention.vit import VisionTransformer, ViTConfig, load_vit
from mvk_tutorial.cli import main

MEAN, STD = torch.full((3,), 0.5), torch.full((3,), 0.25)
WEIGHTS = Path(train_vit.__file__).resolve().parents[1] / "weights" / "vit_tiny_mvk.pt"


@pytest.fixture(scope="module")
def mini_root(tmp_path_factory):
    from mvk_tutorial.mvk.synthetic import ensure_mvk_mini

    return ensure_mvk_mini("test", root=tmp_path_factory.mktemp("mvk"))


def test_split_is_by_video(mini_root):
    from mvk_tutorial.mvk.labels import load_frame_labels

    df = load_frame_labels(mini_root)
    tr, ho = split_by_video(df)
    assert len(tr) + len(ho) == len(df)
    assert not set(df["seq"].iloc[tr]) & set(df["seq"].iloc[ho])
    bad = df.copy()
    bad.loc[bad.index[0], "split"] = (
        "val" if bad["split"].iloc[0] == "train" else "train"
    )
    with pytest.raises(ValueError, match="both splits"):
        split_by_video(bad)


def _toy_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 3, 16, 16, generator=g)
    y = torch.randint(0, 3, (40,), generator=g)
    cfg = ViTConfig(
        img_size=16, patch_size=8, num_classes=3, dim=16, depth=1, num_heads=2
    )
    return x, y, cfg


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, interrupt_on_call):
    x, y, vcfg = _toy_problem()
    tcfg = TrainConfig(epochs=3, batch_size=16, warmup_epochs=1, seed=0)
    torch.manual_seed(0)
    ref = VisionTransformer(vcfg)
    ref_hist = fit(
        ref,
        x,
        y,
        tcfg,
        MEAN,
        STD,
        partial=tmp_path / "ref.partial.pt",
        log=lambda *_: None,
    )

    torch.manual_seed(0)
    model = VisionTransformer(vcfg)
    partial = tmp_path / "run.partial.pt"
    with interrupt_on_call(train_vit, "augment", 5):  # in epoch 2 (3 steps per epoch)
        fit(model, x, y, tcfg, MEAN, STD, partial=partial, log=lambda *_: None)
    assert torch.load(partial, weights_only=True)["epoch"] == 1
    torch.manual_seed(123)  # a different init: resuming must overwrite it
    resumed = VisionTransformer(vcfg)
    hist = fit(resumed, x, y, tcfg, MEAN, STD, partial=partial, log=lambda *_: None)
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert hist[-1]["loss"] == pytest.approx(ref_hist[-1]["loss"], rel=1e-5)
    for (n, a), (_, b) in zip(ref.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, msg=n)


def test_cli_trains_and_writes_weights_and_sidecar(mini_root, tmp_path):
    out = tmp_path / "w" / "vit.pt"
    status = main(
        [
            "train",
            "vit",
            "--data-root",
            str(mini_root),
            "--epochs",
            "1",
            "--out",
            str(out),
        ]
    )
    assert status == 0 and out.is_file()
    model, meta = load_vit(out)
    assert meta["classes"][0] == "background" and "heldout_accuracy" in meta["metrics"]
    assert not (tmp_path / "w" / "vit.partial.pt").exists()
    md = out.with_suffix(".md").read_text()
    assert "mvk train vit" in md and "seed 0" in md and "held-out accuracy" in md
    assert model(torch.zeros(1, 3, *model.cfg.img_size)).shape == (1, 9)


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert main(["train", "vit", "--epochs", "0", "--out", str(tmp_path / "x.pt")]) == 2
    assert (
        main(
            [
                "train",
                "vit",
                "--data-root",
                str(tmp_path / "nope"),
                "--out",
                str(tmp_path / "x.pt"),
            ]
        )
        == 2
    )
    assert "error" in capsys.readouterr().err


def test_shipped_weights_are_small_and_documented():
    if not WEIGHTS.is_file():
        pytest.skip(f"{WEIGHTS} not trained yet (mvk train vit)")
    assert WEIGHTS.stat().st_size < 10 * 2**20
    model, meta = load_vit(WEIGHTS)
    md = WEIGHTS.with_suffix(".md").read_text()
    assert "mvk train vit" in md and "preset `book`" in md
    acc = meta["metrics"]["heldout_accuracy"]
    assert f"{acc:.3f}" in md
    assert acc > meta["metrics"]["majority_baseline"]


@pytest.mark.slow
def test_shipped_weights_reproduce_their_heldout_accuracy():
    if not WEIGHTS.is_file():
        pytest.skip(f"{WEIGHTS} not trained yet (mvk train vit)")
    from mvk_tutorial.mvk.labels import load_manifest
    from mvk_tutorial.mvk.synthetic import ensure_mvk_mini

    model, meta = load_vit(WEIGHTS)
    root = ensure_mvk_mini("book")
    version = load_manifest(root)["generator_version"]
    if version != meta["data"]["generator_version"]:
        pytest.skip(
            f"weights trained on MVK-mini generator v{meta['data']['generator_version']}"
            f", data here are v{version}: retrain with `mvk train vit`"
        )
    data = train_vit.prepare_data(root, model.cfg.img_size)
    x = train_vit.normalize(data["images"][data["held_idx"]], meta["mean"], meta["std"])
    m = train_vit.evaluate(model, x, data["labels"][data["held_idx"]], 9)
    assert m["accuracy"] == pytest.approx(meta["metrics"]["heldout_accuracy"], abs=1e-3)
