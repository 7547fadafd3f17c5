"""mvk train cnn (the ViT's control), learning curves, exact resume with dropout, zoom
augmentation and --caption-mix parsing."""

import json

import pytest
import torch

from mvk_tutorial.attention import train_vit
from mvk_tutorial.attention.cnn import CNN_PRESETS, SmallCNN, load_cnn, save_cnn
from mvk_tutorial.attention.train_vit import TrainConfig, augment, fit
from mvk_tutorial.attention.vit import VIT_PRESETS, VisionTransformer, ViTConfig, save_vit
from mvk_tutorial.cli import main

MEAN, STD = torch.full((3,), 0.5), torch.full((3,), 0.25)


@pytest.fixture(scope="module")
def mini_root():
    from mvk_tutorial.mvk.synthetic import ensure_mvk_mini

    return ensure_mvk_mini("test")


def _n(m):
    return sum(p.numel() for p in m.parameters())


def test_cnn_has_about_the_vits_size_and_output():
    cnn, vit = SmallCNN(CNN_PRESETS["cnn_tiny_mvk"]), VisionTransformer(VIT_PRESETS["vit_tiny_mvk"])
    assert abs(_n(cnn) - _n(vit)) / _n(vit) < 0.1
    assert cnn(torch.zeros(2, 3, 48, 80)).shape == (2, 9)


def test_cnn_is_translation_equivariant_before_pooling():
    # the locality prior in one line: shifting the input by 16 px (the total stride)
    # shifts the feature map by one cell (away from the borders)
    torch.manual_seed(0)
    m = SmallCNN().eval()
    x = torch.zeros(1, 3, 48, 80)
    x[..., 16:32, 16:32] = torch.rand(3, 16, 16)
    shifted = torch.roll(x, 16, dims=-1)
    with torch.no_grad():
        a, b = m.features(x), m.features(shifted)
    torch.testing.assert_close(b[..., 1:2], a[..., 0:1], atol=1e-5, rtol=1e-4)


def test_save_and_load_cnn(tmp_path):
    m = SmallCNN().eval()
    save_cnn(tmp_path / "c.pt", m, classes=["a"])
    back, meta = load_cnn(tmp_path / "c.pt")
    assert meta["classes"] == ["a"]
    for (k, v), (_, w) in zip(m.state_dict().items(), back.state_dict().items()):
        torch.testing.assert_close(v, w, msg=k)
    save_vit(tmp_path / "v.pt", VisionTransformer(ViTConfig(img_size=16, patch_size=8, dim=8, depth=1, num_heads=2)))
    with pytest.raises(ValueError, match="v.pt.*arch='cnn'"):
        load_cnn(tmp_path / "v.pt")
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_cnn(tmp_path / "nope.pt")


def test_resume_equals_uninterrupted_with_dropout(tmp_path, interrupt_on_call):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(40, 3, 16, 16, generator=g), torch.randint(0, 3, (40,), generator=g)
    vcfg = ViTConfig(img_size=16, patch_size=8, num_classes=3, dim=16, depth=1,
                     num_heads=2, drop_rate=0.3)  # dropout draws from torch's global RNG
    tcfg = TrainConfig(epochs=3, batch_size=16, warmup_epochs=1, seed=0, zoom=0.5)
    torch.manual_seed(0)
    ref = VisionTransformer(vcfg)
    fit(ref, x, y, tcfg, MEAN, STD, partial=tmp_path / "ref.partial.pt", log=lambda *_: None)
    torch.manual_seed(0)
    model = VisionTransformer(vcfg)
    partial = tmp_path / "run.partial.pt"
    with interrupt_on_call(train_vit, "augment", 5):
        fit(model, x, y, tcfg, MEAN, STD, partial=partial, log=lambda *_: None)
    torch.manual_seed(999)  # the global RNG moves on in between: resume must restore it
    torch.rand(100)
    resumed = VisionTransformer(vcfg)
    fit(resumed, x, y, tcfg, MEAN, STD, partial=partial, log=lambda *_: None)
    for (n, a), (_, b) in zip(ref.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, msg=n)


def test_eval_fn_records_a_learning_curve():
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(32, 3, 16, 16, generator=g), torch.randint(0, 3, (32,), generator=g)
    m = VisionTransformer(ViTConfig(img_size=16, patch_size=8, num_classes=3, dim=8, depth=1, num_heads=2))
    seen = []

    def eval_fn(model):
        seen.append(model.training)
        return {"heldout_acc": 0.5}

    hist = fit(m, x, y, TrainConfig(epochs=2, batch_size=16, warmup_epochs=1), MEAN, STD,
               log=lambda *_: None, eval_fn=eval_fn)
    assert [h["heldout_acc"] for h in hist] == [0.5, 0.5] and seen == [False, False]
    assert m.training  # back in training mode after each evaluation


def test_zoom_augmentation_is_seeded_and_keeps_the_shape():
    x = torch.rand(4, 3, 12, 20)
    a = augment(x, torch.Generator().manual_seed(3), zoom=0.5)
    b = augment(x, torch.Generator().manual_seed(3), zoom=0.5)
    assert a.shape == x.shape and torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    plain = augment(x, torch.Generator().manual_seed(3))
    assert not torch.equal(a, plain)


def test_cli_trains_the_cnn_with_a_learning_curve(mini_root, tmp_path):
    out = tmp_path / "cnn.pt"
    assert main(["train", "cnn", "--data-root", str(mini_root), "--epochs", "1",
                 "--threads", "1", "--out", str(out)]) == 0
    model, meta = load_cnn(out)
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["command"].startswith("mvk train cnn") and side["seed"] == 0
    assert [h["epoch"] for h in side["learning_curve"]] == [1]
    assert all(0 <= h["heldout_acc"] <= 1 for h in side["learning_curve"])
    assert side["metrics"]["heldout_accuracy"] == meta["metrics"]["heldout_accuracy"]
    md = out.with_suffix(".md").read_text()
    assert "small CNN" in md and "mvk train cnn" in md and "lowest held-out accuracy" in md


def test_cli_rejects_a_bad_zoom(tmp_path, capsys):
    assert main(["train", "vit", "--zoom", "-1", "--out", str(tmp_path / "x.pt")]) == 2
    assert "--zoom" in capsys.readouterr().err


def test_caption_mix_parsing():
    from mvk_tutorial.retrieval.train_clip import CAPTION_MIX, parse_caption_mix

    assert parse_caption_mix(None) == CAPTION_MIX
    assert parse_caption_mix("automatic=1") == {"expert": 0.0, "automatic": 1.0, "novice": 0.0}
    mix = parse_caption_mix("expert=1,automatic=1,novice=2")
    assert mix == pytest.approx({"expert": 0.25, "automatic": 0.25, "novice": 0.5})
    for bad in ("poet=1", "expert", "expert=-1", "expert=nan", "expert=0,novice=0", "expert=x"):
        with pytest.raises(ValueError, match="--caption-mix"):
            parse_caption_mix(bad)
