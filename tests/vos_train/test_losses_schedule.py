"""Losses and learning-rate schedule against brute-force definitions."""

import math

import numpy as np
import pytest
import torch

from mvk_tutorial.vos.losses import (
    bootstrap_ratio,
    bootstrapped_cross_entropy,
    soft_jaccard,
)
from mvk_tutorial.vos.train import TrainConfig, learning_rate


def _brute_ce(logits, target, ratio):
    """Per sample: -log softmax at the target for every pixel, the largest k kept."""
    B, C, H, W = logits.shape
    per_sample = []
    for b in range(B):
        vals = []
        for y in range(H):
            for x in range(W):
                z = logits[b, :, y, x].double().numpy()
                lse = math.log(sum(math.exp(v) for v in z))
                vals.append(lse - z[int(target[b, y, x])])
        vals.sort(reverse=True)
        k = max(1, int(round(len(vals) * ratio)))
        per_sample.append(sum(vals[:k]) / k)
    return sum(per_sample) / B


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.15])
def test_bootstrapped_ce_matches_loops(ratio):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 5, 6, generator=g) * 3
    target = torch.randint(0, 4, (2, 5, 6), generator=g)
    got = float(bootstrapped_cross_entropy(logits, target, ratio))
    assert got == pytest.approx(_brute_ce(logits, target, ratio), rel=1e-5)


def test_bootstrapped_ce_keeps_hardest_pixels():
    logits = torch.zeros(1, 2, 1, 4)
    logits[0, 0, 0] = torch.tensor([5.0, 5.0, 5.0, -5.0])  # the last pixel is wrong
    target = torch.zeros(1, 1, 4, dtype=torch.long)
    hard = float(bootstrapped_cross_entropy(logits, target, 0.25))
    full = float(bootstrapped_cross_entropy(logits, target, 1.0))
    assert hard == pytest.approx(math.log(1 + math.exp(5)), rel=1e-5)  # bg -5, fg 0
    assert full < hard


def _brute_jaccard(logits, target, num_objects):
    B = logits.shape[0]
    p = torch.softmax(logits.double(), 1).numpy()
    out = []
    for b in range(B):
        losses = []
        for c in range(int(num_objects[b]) + 1):
            g = (target[b].numpy() == c).astype(float)
            inter = (p[b, c] * g).sum()
            union = (p[b, c] + g - p[b, c] * g).sum()
            losses.append(1 - (inter + 1e-5) / (union + 1e-5))
        out.append(np.mean(losses))
    return float(np.mean(out))


def test_soft_jaccard_matches_loops_and_ignores_absent_channels():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 5, 4, 4, generator=g)
    n = torch.tensor([1, 2, 4])
    target = torch.stack([torch.randint(0, int(k) + 1, (4, 4), generator=g) for k in n])
    got = float(soft_jaccard(logits, target, n))
    assert got == pytest.approx(_brute_jaccard(logits, target, n), rel=1e-5)


def test_soft_jaccard_perfect_prediction_is_zero():
    target = torch.tensor([[[0, 1], [2, 1]]])
    logits = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    loss = float(soft_jaccard(logits, target, torch.tensor([2])))
    assert loss == pytest.approx(0, abs=1e-4)


def test_bootstrap_ratio_decays_linearly_then_stays():
    assert bootstrap_ratio(0, 0.15, 100) == pytest.approx(1.0)
    assert bootstrap_ratio(50, 0.15, 100) == pytest.approx(0.15 + 0.85 * 0.5)
    assert bootstrap_ratio(100, 0.15, 100) == pytest.approx(0.15)
    assert bootstrap_ratio(500, 0.15, 100) == pytest.approx(0.15)
    assert bootstrap_ratio(3, 0.15, 0) == pytest.approx(0.15)


def test_learning_rate_warmup_and_polynomial_decay():
    cfg = TrainConfig(steps=110, warmup=10, lr=1e-3, min_lr=1e-5, power=0.9)
    lrs = [learning_rate(s, cfg) for s in range(cfg.steps)]
    assert lrs[0] == pytest.approx(1e-4)  # (0 + 1) / 10 of the peak
    assert lrs[9] == pytest.approx(1e-3)  # peak at the end of warm-up
    assert all(a < b for a, b in zip(lrs[:9], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    # halfway through the decay: (lr - min) * 0.5 ** 0.9 + min
    assert learning_rate(60, cfg) == pytest.approx((1e-3 - 1e-5) * 0.5**0.9 + 1e-5)
    assert learning_rate(110, cfg) == pytest.approx(1e-5)


def test_bad_config_is_named():
    with pytest.raises(ValueError, match="crop"):
        TrainConfig(crop=(128, 128))
    with pytest.raises(ValueError, match="clip_len"):
        TrainConfig(clip_len=1)
