"""SAN's design invariants, checked against open_clip's own VisionTransformer."""

import pytest
import torch
from open_clip.transformer import VisionTransformer

from mvk_tutorial.attention.san import san_from_clip

SIDE = dict(img_size=(64, 48), patch_size=8, embed_dim=32, depth=2, num_heads=2)
BIAS = dict(
    num_heads=2,
    num_layers=1,
    embed_channels=8,
    mlp_channels=16,
    mlp_num_layers=3,
    rescale_attn_bias=True,
)


def _clip(layers=3, seed=0):
    torch.manual_seed(seed)
    v = (
        VisionTransformer(
            image_size=(32, 24),
            patch_size=8,
            width=32,
            layers=layers,
            heads=2,
            mlp_ratio=4.0,
            output_dim=16,
        )
        .double()
        .eval()
    )
    with (
        torch.no_grad()
    ):  # open_clip zero-initialises some tensors: make them non-trivial
        for p in v.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return v


def _san(visual, split_layer, num_queries=4):
    return (
        san_from_clip(
            visual,
            split_layer,
            side=SIDE,
            num_queries=num_queries,
            fusion_map={0: 0, 1: 1},
            deep_supervision_idxs=[1, 2],
            attn_bias=BIAS,
        )
        .double()
        .eval()
    )


@pytest.fixture(scope="module")
def setup():
    visual = _clip()
    image = torch.randn(2, 3, 64, 48, dtype=torch.float64)
    clip_input = torch.nn.functional.interpolate(
        image, scale_factor=0.5, mode="bilinear"
    )
    return visual, image, clip_input


@torch.no_grad()
def test_clip_features_equal_open_clip(setup):
    visual, image, clip_input = setup
    model = _san(visual, 2)
    feats = model.clip_features(image)
    ref = visual.forward_intermediates(clip_input)["image_intermediates"]  # per block
    for i in (1, 2):
        torch.testing.assert_close(feats[i], ref[i - 1], atol=1e-12, rtol=0)


@torch.no_grad()
def test_zero_bias_sos_equals_clip_class_token(setup):
    visual, image, clip_input = setup
    model = _san(visual, 1, num_queries=5)
    feats = model.clip_features(image)
    bias = torch.zeros(2, 2, 5, 4, 3, dtype=torch.float64)
    sos = model.clip_rec_head(feats, bias)  # (B, Q, D)
    ref = visual(clip_input)  # open_clip: ln_post(class token) @ proj, (B, D)
    torch.testing.assert_close(sos, ref[:, None].expand_as(sos), atol=1e-12, rtol=0)


@torch.no_grad()
def test_clip_tokens_ignore_biases_and_query_count(setup):
    visual, image, clip_input = setup
    model = _san(visual, 1)
    feats = model.clip_features(image)
    head = model.clip_rec_head
    a = head.forward_tokens(feats, 30 * torch.randn(2, 2, 8, 4, 3, dtype=torch.float64))
    b = head.forward_tokens(feats, torch.zeros(2, 1, 3, 4, 3, dtype=torch.float64))
    torch.testing.assert_close(a[:, 8:], b[:, 3:], atol=1e-12, rtol=0)  # [CLS, patches]
    ref = visual.forward_intermediates(clip_input)["image_intermediates"][-1]
    torch.testing.assert_close(
        a[:, 9:].transpose(1, 2).reshape(2, 32, 4, 3), ref, atol=1e-12, rtol=0
    )


@torch.no_grad()
def test_one_patch_bias_makes_sos_see_only_that_patch(setup):
    visual, image, _ = setup
    model = _san(visual, 2, num_queries=3)  # one recognition block
    feats = model.clip_features(image)
    head, p = model.clip_rec_head, 7  # patch 7 of the 4 x 3 grid
    bias = torch.full((2, 2, 3, 4, 3), -1e4, dtype=torch.float64)
    bias.view(2, 2, 3, 12)[..., p] = 0.0
    sos = head.forward_tokens(feats, bias)[:, :3]  # (B, Q, C)
    # brute force: the block on the two tokens [SOS (= CLS), patch p] alone
    cls, pix = (
        feats["2_cls_token"],
        feats[2].flatten(2).transpose(1, 2),
    )  # (B, C), (B, L, C)
    pair = torch.stack([cls, pix[:, p]], dim=1)  # (B, 2, C)
    ref = head.resblocks[0](pair)[:, 0]
    torch.testing.assert_close(sos, ref[:, None].expand_as(sos), atol=1e-12, rtol=0)
    # and changing any other patch leaves the SOS tokens unchanged
    other = dict(feats)
    other[2] = feats[2].clone()
    other[2].view(2, 32, 12)[..., [0, 3, 11]] += 5.0
    torch.testing.assert_close(
        head.forward_tokens(other, bias)[:, :3], sos, atol=1e-12, rtol=0
    )
