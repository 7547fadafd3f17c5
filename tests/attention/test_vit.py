"""ViT: patch embedding vs einops, shapes, fused == manual, rollout, save/load."""

import pytest
import torch
from einops import rearrange

from mvk_tutorial.attention.patch_embed import PatchEmbed
from mvk_tutorial.attention.rollout import attention_rollout
from mvk_tutorial.attention.vit import (
    VIT_PRESETS,
    VisionTransformer,
    ViTConfig,
    create_vit,
    load_vit,
    save_vit,
)

SMALL = ViTConfig(
    img_size=32, patch_size=8, num_classes=5, dim=32, depth=2, num_heads=4
)


def test_patch_embed_is_a_linear_map_of_flattened_patches():
    torch.manual_seed(0)
    pe = PatchEmbed(img_size=16, patch_size=4, in_chans=3, dim=10).double()
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    patches = rearrange(x, "b c (h p1) (w p2) -> b (h w) (c p1 p2)", p1=4, p2=4)
    w = pe.proj.weight.reshape(10, -1)  # (dim, C * P * P)
    torch.testing.assert_close(pe(x), patches @ w.T + pe.proj.bias, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="16x16"):
        pe(torch.randn(1, 3, 12, 16, dtype=torch.float64))


def test_shapes_and_feature_head_split():
    m = VisionTransformer.from_config(SMALL).eval()
    x = torch.randn(3, 3, 32, 32)
    feats = m.forward_features(x)
    assert feats.shape == (3, 1 + 16, 32)
    assert m.forward_head(feats, pre_logits=True).shape == (3, 32)
    torch.testing.assert_close(m(x), m.forward_head(feats))
    maps = m.get_attention_maps(x)
    assert len(maps) == 2 and maps[0].shape == (3, 4, 17, 17)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(3, 4, 17))


def test_fused_and_manual_paths_agree_and_backward_reaches_every_parameter():
    torch.manual_seed(0)
    m = VisionTransformer(SMALL)
    x = torch.randn(2, 3, 32, 32)
    outs = []
    for fused in (True, False):
        for blk in m.blocks:
            blk.attn.fused_attn = fused
        outs.append(m.eval()(x))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)
    m.train()(x).sum().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None]
    assert not missing, missing


def test_class_token_output_ignores_patch_order_without_positions():
    # Attention is permutation equivariant; the position embedding is what breaks it.
    torch.manual_seed(0)
    m = VisionTransformer(SMALL).double().eval()
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    tokens = m.patch_embed(x)
    perm = torch.randperm(tokens.shape[1])

    def run(t):
        t = torch.cat([m.cls_token.expand(1, -1, -1), t], 1)
        for blk in m.blocks:
            t = blk(t)
        return m.norm(t)[:, 0]

    torch.testing.assert_close(run(tokens), run(tokens[:, perm]))


def test_presets_build():
    for name in VIT_PRESETS:
        if "mvk" in name:
            assert isinstance(create_vit(name, num_classes=3), VisionTransformer)
    with pytest.raises(ValueError, match="preset"):
        create_vit("vit_huge_nonexistent")


def test_save_load_round_trip(tmp_path):
    m = VisionTransformer(SMALL).eval()
    path = tmp_path / "v.pt"
    save_vit(path, m, classes=["a", "b", "c", "d", "e"])
    m2, meta = load_vit(path)
    assert meta["classes"][0] == "a" and m2.cfg == SMALL
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(m2(x), m(x))
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_vit(tmp_path / "missing.pt")
    torch.save({"nope": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt"):
        load_vit(tmp_path / "bad.pt")


def _brute_rollout(attns):
    B, _, N, _ = attns[0].shape
    out = torch.zeros(B, N, N, dtype=attns[0].dtype)
    for b in range(B):
        r = torch.eye(N, dtype=attns[0].dtype)
        for a in attns:
            a = a[b].mean(0)
            a = 0.5 * a + 0.5 * torch.eye(N, dtype=a.dtype)
            a = a / a.sum(-1, keepdim=True)
            r = a @ r
        out[b] = r
    return out


def test_rollout_matches_brute_force_and_rows_sum_to_one():
    g = torch.Generator().manual_seed(0)
    attns = [
        torch.softmax(torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64), -1)
        for _ in range(4)
    ]
    r = attention_rollout(attns)
    torch.testing.assert_close(r, _brute_rollout(attns))
    torch.testing.assert_close(r.sum(-1), torch.ones(2, 5, dtype=torch.float64))


def test_rollout_of_identity_attention_is_identity():
    eye = torch.eye(4).expand(1, 2, 4, 4)
    torch.testing.assert_close(attention_rollout([eye, eye, eye]), torch.eye(4)[None])
    with pytest.raises(ValueError, match="head_fusion"):
        attention_rollout([eye], head_fusion="median")


def test_rectangular_images_give_a_row_major_grid():
    cfg = ViTConfig(
        img_size=(16, 24), patch_size=8, num_classes=2, dim=16, depth=1, num_heads=2
    )
    m = VisionTransformer(cfg).eval()
    assert m.patch_embed.grid_size == (2, 3)
    x = torch.zeros(1, 3, 16, 24)
    x[..., 8:16, 16:24] = 1.0  # bottom-right patch = token (row 1, col 2) = index 5
    t = m.patch_embed(x)
    diff = (t - m.patch_embed(torch.zeros_like(x))).abs().sum(-1)[0]
    assert diff.argmax().item() == 5 and (diff > 0).sum().item() == 1
    assert m(torch.randn(2, 3, 16, 24)).shape == (2, 2)
