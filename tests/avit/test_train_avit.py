"""mvk train avit: resume == uninterrupted (all RNG states), save/load round trip,
CLI validation."""

import random

import numpy as np
import pytest
import torch

from mvk_tutorial.attention.avit import AViT, HaltingConfig
from mvk_tutorial.attention.avit_train_config import AViTTrainConfig
from mvk_tutorial.attention.train_avit import fit_avit, load_avit, save_avit
from mvk_tutorial.attention.vit import ViTConfig

CFG = ViTConfig(img_size=(16, 16), patch_size=8, num_classes=3, dim=16, depth=3,
                num_heads=2, drop_rate=0.1)  # dropout draws from torch's global RNG


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.rand(16, 3, 16, 16, generator=g), torch.randint(0, 3, (16,), generator=g)


def _teacher():
    from mvk_tutorial.attention.vit import VisionTransformer

    torch.manual_seed(11)
    return VisionTransformer(CFG).eval()


def _run(tmp_path, stops, **extra):
    torch.manual_seed(5)
    model = AViT(CFG, HaltingConfig(gate_scale=5.0, gate_center=0.0))
    cfg = AViTTrainConfig(epochs=3, batch_size=8, gate_center=0.0, gate_scale=5.0, **extra)
    teacher = _teacher() if cfg.distill_alpha else None
    x, y = _data()
    masks = None
    if cfg.paste:  # animal coverage and animal-free backgrounds, as load_masks gives
        g = torch.Generator().manual_seed(1)
        masks = (torch.rand(16, 1, 16, 16, generator=g).round(), torch.rand(16, 3, 16, 16, generator=g))
    mean, std = torch.full((3,), 0.5), torch.full((3,), 0.25)
    partial = tmp_path / "run.partial.pt"
    hist = None
    for i, stop in enumerate(stops):
        torch.manual_seed(123 + 7 * i)  # a fresh process: other global RNG states
        np.random.seed(i), random.seed(i)
        model2 = AViT(CFG, HaltingConfig(gate_scale=5.0, gate_center=0.0))
        model2.load_state_dict(model.state_dict())  # same start weights each time
        hist = fit_avit(model2, x, y, cfg, mean, std, partial=partial, stop_after=stop,
                        log=lambda *_: None, teacher=teacher, masks=masks)
    return model2, hist


EXTRA = {
    "paper losses": {},
    "class-token ponder, distillation": dict(
        cls_ponder_scale=0.5, patch_ponder_only=True, distill_alpha=1.0, distill_temperature=2.0
    ),
    "the ViT's augmentations (shipped recipe)": dict(
        cls_ponder_scale=1.0, ponder_scale=0.0, distr_prior_alpha=0.0, distill_alpha=2.0,
        distill_temperature=2.0, zoom=0.5, paste=1.0, paste_shift=0.3, balance=True,
    ),
}


def test_paste_needs_the_masks():
    x, y = _data()
    model = AViT(CFG, HaltingConfig(gate_scale=5.0, gate_center=0.0))
    cfg = AViTTrainConfig(epochs=1, batch_size=8, paste=1.0)
    with pytest.raises(ValueError, match="masks"):
        fit_avit(model, x, y, cfg, torch.zeros(3), torch.ones(3), log=lambda *_: None)


def test_paste_and_balance_change_the_training():
    """The options are used: the same seed with and without them ends elsewhere."""
    a, _ = _run_once(dict())
    b, _ = _run_once(dict(zoom=0.5, paste=1.0, paste_shift=0.3, balance=True))
    assert not all(torch.equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values()))


def _run_once(extra):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        return _run(Path(tmp), [None], **extra)


@pytest.mark.parametrize("extra", EXTRA.values(), ids=EXTRA.keys())
def test_resume_equals_uninterrupted(tmp_path, extra):
    full, h_full = _run(tmp_path / "a", [None], **extra)
    resumed, h_res = _run(tmp_path / "b", [2, None], **extra)
    assert len(h_full) == len(h_res) == 3
    for a, b in zip(h_full, h_res):
        assert a == b
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    m = AViT(CFG, HaltingConfig(gate_scale=5.0, gate_center=0.0)).eval()
    save_avit(tmp_path / "m.pt", m, classes=["a", "b", "c"])
    m2, meta = load_avit(tmp_path / "m.pt")
    assert meta["classes"] == ["a", "b", "c"] and m2.token_path == "gather"
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(m(x), m2(x), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_avit(tmp_path / "missing.pt")
    torch.save([1, 2], tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="expected a dict"):
        load_avit(tmp_path / "bad.pt")


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    from mvk_tutorial.cli import main

    assert main(["train", "avit", "--epochs", "0"]) == 2
    assert "--epochs" in capsys.readouterr().err
    assert main(["train", "avit", "--vit", str(tmp_path / "nope.pt")]) == 2
    assert "--vit" in capsys.readouterr().err
    for flag, bad in (("--paste", "1.5"), ("--paste-shift", "0.9"), ("--zoom", "-1")):
        assert main(["train", "avit", flag, bad]) == 2
        assert flag in capsys.readouterr().err


def test_extra_losses_change_training_and_distillation_needs_a_teacher(tmp_path):
    _, h_paper = _run(tmp_path / "a", [None])
    _, h_extra = _run(tmp_path / "b", [None], **EXTRA["class-token ponder, distillation"])
    assert h_paper[-1]["loss"] != h_extra[-1]["loss"]
    cfg = AViTTrainConfig(epochs=1, batch_size=8, distill_alpha=1.0)
    x, y = _data()
    with pytest.raises(ValueError, match="teacher"):
        fit_avit(AViT(CFG), x, y, cfg, torch.zeros(3), torch.ones(3), log=lambda *_: None)


def test_distill_loss_is_the_kl_to_the_teacher():
    from mvk_tutorial.attention.train_avit import distill_loss

    teacher = _teacher()
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        t = teacher(x)
    s = torch.randn(5, 3)
    T = 2.0
    p, q = torch.softmax(t / T, -1), torch.softmax(s / T, -1)
    expected = T**2 * (p * (p.log() - q.log())).sum(-1).mean()  # KL(p || q) per sample
    assert abs(distill_loss(s, teacher, x, T).item() - expected.item()) < 1e-5
    assert distill_loss(t, teacher, x, T).abs().item() < 1e-6  # the teacher itself: 0
