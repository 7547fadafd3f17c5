"""The class fixes of mvk train vit: copy-paste of animals onto other backgrounds,
class-balanced loss weights, hue-preserving gain; resume stays exact with them on."""

import pytest
import torch
import torch.nn.functional as F

from mvk_tutorial.attention import train_vit
from mvk_tutorial.attention.train_vit import (
    TrainConfig,
    augment,
    class_weights,
    fit,
    load_masks,
    paste_animals,
)
from mvk_tutorial.attention.vit import VisionTransformer, ViTConfig
from mvk_tutorial.cli import main

MEAN, STD = torch.full((3,), 0.5), torch.full((3,), 0.25)


def test_class_weights_equalise_the_total_weight_of_each_present_class():
    y = torch.tensor([0, 0, 0, 0, 2, 2, 3])  # class 1 absent
    w = class_weights(y, 4)
    assert w[1] == 0
    totals = torch.stack([w[c] * (y == c).sum() for c in (0, 2, 3)])
    torch.testing.assert_close(totals, torch.full((3,), len(y) / 3))


def test_balanced_loss_is_the_per_class_mean_of_the_losses():
    # independent reference: the weighted mean over frames equals the plain mean over
    # classes of each class's mean loss when the weights are inverse frequencies
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(10, 3, generator=g)
    y = torch.tensor([0] * 6 + [1] * 3 + [2])
    got = F.cross_entropy(logits, y, weight=class_weights(y, 3))
    per = F.cross_entropy(logits, y, reduction="none")
    want = torch.stack([per[y == c].mean() for c in range(3)]).mean()
    torch.testing.assert_close(got, want)


def test_paste_puts_the_animal_pixels_on_the_partner_background_and_keeps_the_label():
    g = torch.Generator().manual_seed(0)
    B, H, W = 6, 8, 10
    x = torch.rand(B, 3, H, W, generator=g)
    bg = torch.rand(B, 3, H, W, generator=g)
    alpha = torch.zeros(B, 1, H, W)
    alpha[:, :, 2:5, 3:7] = 1.0
    alpha[:, :, 5, 3:7] = 0.25  # an anti-aliased edge
    y = torch.arange(B)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    out, y2 = paste_animals(x, y, alpha, bg, g1, p=1.0)
    torch.rand(B, generator=g2)  # the same draws, replayed by hand
    partner = torch.randperm(B, generator=g2)
    assert torch.equal(y2, y)
    for i in range(B):
        j = partner[i]
        want = alpha[i] * x[i] + (1 - alpha[i]) * bg[j]
        torch.testing.assert_close(out[i], want)
        torch.testing.assert_close(out[i, :, 2:5, 3:7], x[i, :, 2:5, 3:7])  # animal kept
        torch.testing.assert_close(out[i, :, 0, :], bg[j, :, 0, :])  # scene replaced
    same, _ = paste_animals(x, y, alpha, bg, torch.Generator().manual_seed(0), p=0.0)
    assert torch.equal(same, x)


def test_load_masks_gives_coverage_and_animal_free_backgrounds(tmp_path):
    import cv2
    import numpy as np

    mask = np.zeros((32, 40), np.uint8)
    mask[8:16, 8:24] = 3  # an animal of class 3
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    img = np.full((16, 20, 3), 60, np.uint8)
    img[4:8, 4:12] = 250  # the animal, bright, at half resolution
    cover, bg = load_masks([str(tmp_path / "m.png")], torch.from_numpy(img).permute(2, 0, 1)[None])
    assert cover.shape == (1, 1, 16, 20) and bg.shape == (1, 3, 16, 20)
    torch.testing.assert_close(cover[0, 0, 4:8, 4:12], torch.ones(4, 12 - 4))
    assert cover[0, 0, :4].sum() == 0 and cover[0, 0, 8:].sum() == 0
    # the inpainted background has no trace of the bright animal
    assert bg.max() < 100 / 255 and (bg - 60 / 255).abs().max() < 0.05


def test_brightness_gain_keeps_hue_and_channel_gain_does_not():
    x = torch.tensor([150, 135, 12])  # a yellow below saturation even at gain 1.25
    x = x.float().view(1, 3, 1, 1).expand(64, 3, 4, 4) / 255
    chan = augment(x, torch.Generator().manual_seed(0), shift=0, gain=0.25)
    bright = augment(x, torch.Generator().manual_seed(0), shift=0, gain=0.25,
                     gain_mode="brightness")

    def ratio(t):  # green / red of every image: the hue of a yellow fish
        return t[:, 1, 0, 0] / t[:, 0, 0, 0]

    flip_free = ratio(bright)
    torch.testing.assert_close(flip_free, torch.full_like(flip_free, 135 / 150))
    assert ratio(chan).std() > 0.05
    with pytest.raises(ValueError, match="gain_mode"):
        augment(x, torch.Generator(), gain_mode="hue")


def test_resume_is_exact_with_paste_and_balance(tmp_path, interrupt_on_call):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 3, 16, 16, generator=g)
    y = torch.randint(0, 3, (40,), generator=g)
    alpha = (torch.rand(40, 1, 16, 16, generator=g) > 0.7).float()
    bg = torch.rand(40, 3, 16, 16, generator=g)
    vcfg = ViTConfig(img_size=16, patch_size=8, num_classes=3, dim=16, depth=1,
                     num_heads=2, drop_rate=0.2)
    tcfg = TrainConfig(epochs=3, batch_size=16, warmup_epochs=1, seed=0, zoom=0.5,
                       paste=0.5, paste_shift=0.3, balance=True, gain=0.1,
                       gain_mode="brightness")
    quiet = dict(log=lambda *_: None, masks=(alpha, bg))
    torch.manual_seed(0)
    ref = VisionTransformer(vcfg)
    ref_hist = fit(ref, x, y, tcfg, MEAN, STD, partial=tmp_path / "ref.partial.pt", **quiet)
    torch.manual_seed(0)
    model = VisionTransformer(vcfg)
    partial = tmp_path / "run.partial.pt"
    with interrupt_on_call(train_vit, "paste_animals", 5):  # 3 steps per epoch
        fit(model, x, y, tcfg, MEAN, STD, partial=partial, **quiet)
    torch.manual_seed(99)
    resumed = VisionTransformer(vcfg)
    hist = fit(resumed, x, y, tcfg, MEAN, STD, partial=partial, **quiet)
    assert hist[-1]["loss"] == pytest.approx(ref_hist[-1]["loss"], rel=1e-6)
    for (n, a), (_, b) in zip(ref.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, msg=n)
    with pytest.raises(ValueError, match="masks"):
        fit(VisionTransformer(vcfg), x, y, tcfg, MEAN, STD, log=lambda *_: None)


@pytest.mark.parametrize(
    "flag, value, what",
    [("--paste", "1.5", "probability"), ("--gain", "1.2", "amplitude")],
)
def test_cli_rejects_bad_class_fix_values(tmp_path, capsys, flag, value, what):
    code = main(["train", "vit", "--epochs", "1", flag, value, "--out", str(tmp_path / "v.pt")])
    assert code == 2 and not (tmp_path / "v.pt").exists()
    err = capsys.readouterr().err
    assert flag in err and what in err


def test_paste_shift_moves_the_animal_with_its_coverage_and_is_a_no_op_at_zero():
    g = torch.Generator().manual_seed(1)
    B, H, W = 4, 10, 20
    x = torch.rand(B, 3, H, W, generator=g)
    bg = torch.zeros(B, 3, H, W)
    alpha = torch.zeros(B, 1, H, W)
    alpha[:, :, 4:6, 8:12] = 1.0
    out, _ = paste_animals(x, torch.arange(B), alpha, bg, torch.Generator().manual_seed(5), 1.0,
                           shift=0.3)
    g2 = torch.Generator().manual_seed(5)  # replay the draws: do, partner, dy, dx
    torch.rand(B, generator=g2)
    torch.randperm(B, generator=g2)
    dy = torch.randint(-3, 4, (B,), generator=g2)
    dx = torch.randint(-6, 7, (B,), generator=g2)
    for i in range(B):
        moved = torch.roll(alpha[i] * x[i], (int(dy[i]), int(dx[i])), dims=(-2, -1))
        torch.testing.assert_close(out[i], moved)  # the background is black here
    assert (dy != 0).any() or (dx != 0).any()
    a, _ = paste_animals(x, torch.arange(B), alpha, bg, torch.Generator().manual_seed(5), 1.0)
    b, _ = paste_animals(x, torch.arange(B), alpha, bg, torch.Generator().manual_seed(5), 1.0,
                         shift=0.0)
    assert torch.equal(a, b)
