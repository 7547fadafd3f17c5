"""A-ViT: parity with the official fixture (NVlabs/A-ViT @ 120c9cb9), the #4 flag,
mask vs gather paths, halting disabled == plain ViT, and an independent halting loop."""

from pathlib import Path

import pytest
import torch

from mvk_tutorial.attention.avit import (
    AViT,
    HaltingConfig,
    avit_from_vit,
    distribution_prior_target,
    halting_step,
)
from mvk_tutorial.attention.vit import ViTConfig, VisionTransformer

FIXTURE = Path(__file__).parents[1] / "fixtures" / "avit" / "avit_official_reference.pt"


@pytest.fixture(scope="module")
def official():
    assert FIXTURE.is_file(), f"missing fixture {FIXTURE}"
    return torch.load(FIXTURE, weights_only=True)


def _official_model(official, **kwargs):
    torch.manual_seed(0)
    m = AViT.from_official_config(official["config"]["ctor"], official["config"]["args"], **kwargs)
    m = m.double().eval()
    m.load_state_dict(official["state_dict"], strict=True)
    return m


@pytest.mark.parametrize("path", ["mask", "gather"])
def test_official_logits_and_depth(official, path):
    m = _official_model(official, token_path=path)
    with torch.no_grad():
        logits, depth = m(official["inputs"]["x"], return_depth=True)
    out = official["outputs"]
    assert (logits - out["logits"]).abs().max() < 1e-10
    assert torch.equal(depth.double(), out["halting_depth"])
    assert (m.rho - out["rho_token"]).abs().max() < 1e-10


def test_official_layer_mean_bug_behind_flag(official):
    x, expected = official["inputs"]["x"], official["outputs"]["halting_score_layer"]
    buggy = _official_model(official, halting_overrides={"official_layer_mean": True})
    with torch.no_grad():
        buggy(x)
    assert (buggy.halting_score_layer - expected).abs().max() < 1e-10
    fixed = _official_model(official)
    with torch.no_grad():
        fixed(x)
    # the default is a distribution over depth (ACT weights of patch tokens) ...
    assert abs(fixed.halting_score_layer.sum().item() - 1.0) < 1e-10
    # ... and differs from the buggy value
    assert (fixed.halting_score_layer - expected).abs().max() > 1e-3
    buggy.token_path = "gather"
    with pytest.raises(ValueError, match="official_layer_mean"):
        buggy(x)


def test_fixture_depth_counts(official):
    """README: 68 tokens halt at blocks 1/2/3/4 in counts 19/15/6/28."""
    d = official["outputs"]["halting_depth"].long().flatten()
    assert torch.bincount(d, minlength=5)[1:].tolist() == [19, 15, 6, 28]


def reference_act(blocks_out: list[torch.Tensor], gate_scale, gate_center, eps):
    """Independent per-token loop of the halting rule over given block outputs."""
    B, N, C = blocks_out[0].shape
    L = len(blocks_out)
    out = torch.zeros(B, N, C, dtype=torch.float64)
    depth = torch.zeros(B, N, dtype=torch.long)
    for b in range(B):
        for n in range(N):
            c, R = 0.0, 1.0
            for layer in range(L):
                e = blocks_out[layer][b, n]
                h = 1.0 if layer == L - 1 else torch.sigmoid(gate_scale * e[0] - gate_center).item()
                c += h
                if c > 1 - eps:
                    out[b, n] += R * e
                    depth[b, n] = layer + 1
                    break
                out[b, n] += h * e
                R -= h
    return out, depth


def test_halting_step_matches_scalar_loop():
    g = torch.Generator().manual_seed(0)
    blocks = [torch.randn(2, 5, 3, generator=g, dtype=torch.float64) for _ in range(4)]
    ref_out, ref_depth = reference_act(blocks, 2.0, 0.5, 0.01)
    c, R = torch.zeros(2, 5, dtype=torch.float64), torch.ones(2, 5, dtype=torch.float64)
    live = torch.ones(2, 5, dtype=torch.bool)
    out, depth = torch.zeros(2, 5, 3, dtype=torch.float64), torch.ones(2, 5, dtype=torch.long)
    for i, e in enumerate(blocks):
        h = torch.ones(2, 5, dtype=torch.float64) if i == 3 else torch.sigmoid(2.0 * e[..., 0] - 0.5)
        c2, R2, w, reached = halting_step(c, R, h, 0.01)
        out += e * (w * live).unsqueeze(-1)
        depth += (live & ~reached).long()
        c, R, live = c2, torch.where(live, R2, R), live & ~reached
    assert (out - ref_out).abs().max() < 1e-12
    assert torch.equal(depth, ref_depth)


def _tiny_cfg():
    return ViTConfig(img_size=(16, 24), patch_size=8, num_classes=5, dim=16, depth=3, num_heads=2)


def test_halting_disabled_equals_plain_vit():
    torch.manual_seed(1)
    vit = VisionTransformer(_tiny_cfg()).double().eval()
    x = torch.randn(3, 3, 16, 24, dtype=torch.float64)
    for path in ("mask", "gather"):
        m = avit_from_vit(vit, HaltingConfig(halting=False), token_path=path).eval()
        with torch.no_grad():
            logits, depth = m(x, return_depth=True)
            assert (logits - vit(x)).abs().max() < 1e-12
        assert (depth == 3).all()  # every token runs every block
        assert torch.equal(m.rho, torch.full_like(m.rho, 4.0))  # rho = L + 1


@pytest.mark.parametrize("gate_center", [-2.0, 0.0, 1.0])
def test_mask_equals_gather_random(gate_center):
    torch.manual_seed(2)
    cfg = _tiny_cfg()
    m = AViT(cfg, HaltingConfig(gate_scale=3.0, gate_center=gate_center)).double().eval()
    x = torch.randn(5, 3, 16, 24, dtype=torch.float64)
    with torch.no_grad():
        m.token_path = "mask"
        lm, dm = m(x, return_depth=True)
        hm, rm = m.halting_score_layer.clone(), m.rho.clone()
        m.token_path = "gather"
        lg, dg = m(x, return_depth=True)
    assert torch.equal(dm, dg)
    assert (lm - lg).abs().max() < 1e-10
    assert (rm - m.rho).abs().max() < 1e-10
    assert m.halting_score_layer is None  # inference skips what only the losses need
    lg2 = m(x)  # with gradients: the per-block means for the prior
    assert (lg2 - lg).abs().max() < 1e-10
    assert (hm - m.halting_score_layer).abs().max() < 1e-10
    assert 1 <= dm.min() and dm.max() <= cfg.depth
    assert (m.rho >= 2 - 1e-12).all() and (m.rho <= cfg.depth + 1 + 1e-12).all()
    # batch 1 (no padding) agrees with the batched run
    with torch.no_grad():
        l1, d1 = m(x[2:3], return_depth=True)
    assert torch.equal(d1, dg[2:3]) and (l1 - lg[2:3]).abs().max() < 1e-10


def test_token_path_validation():
    m = AViT(_tiny_cfg())
    with pytest.raises(ValueError, match="token_path"):
        m.token_path = "zip"
    with pytest.raises(ValueError, match="token_path"):
        AViT(_tiny_cfg(), token_path="drop")


def test_losses_and_gradients():
    torch.manual_seed(3)
    m = AViT(_tiny_cfg(), HaltingConfig(gate_scale=3.0, gate_center=0.0)).train()
    x = torch.randn(4, 3, 16, 24)
    logits = m(x)
    losses = m.losses(target_depth=2.0)
    assert losses["ponder"].item() >= 2.0 and losses["distr_prior"].item() >= 0
    (logits.sum() + losses["ponder"] + losses["distr_prior"]).backward()
    assert m.blocks[0].mlp.fc2.weight.grad.abs().sum() > 0
    p = distribution_prior_target(4, 2.5)
    assert abs(p.sum().item() - 1) < 1e-6 and p.argmax().item() in (1, 2)


def test_official_config_rejects_unsupported():
    with pytest.raises(ValueError, match="act_mode"):
        AViT.from_official_config({}, {"act_mode": 1, "gate_scale": 1, "gate_center": 0})
    with pytest.raises(ValueError, match="drop_path_rate"):
        AViT.from_official_config({"drop_path_rate": 0.1}, {"gate_scale": 1, "gate_center": 0})
