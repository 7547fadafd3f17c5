"""SAN against the official modules (MendelXu/SAN @ e19262d) at toy size, float64."""

from pathlib import Path

import pytest
import torch

from mvk_tutorial.attention.san import build_san_from_official_config
from mvk_tutorial.attention.san_clip import sos_attention_mask

FIXTURE = Path(__file__).parents[1] / "fixtures" / "san" / "san_official_reference.pt"


@pytest.fixture(scope="module")
def ref():
    assert FIXTURE.is_file(), f"{FIXTURE} is missing (make it with make_fixture.py)"
    return torch.load(FIXTURE, weights_only=True)


@pytest.fixture(scope="module")
def model(ref):
    m = build_san_from_official_config(ref["config"]).double().eval()
    m.load_state_dict(ref["state_dict"], strict=True)  # official names, nothing extra
    return m


def test_official_attribute_names(model):
    for name in ("side_adapter_network", "clip_visual_extractor", "clip_rec_head"):
        assert hasattr(model, name)


def test_outputs_match_official(ref, model):
    with torch.no_grad():
        mask_pred, mask_emb = model(ref["inputs"]["image"])
    out = ref["outputs"]
    assert mask_pred.shape == out["mask_pred"].shape
    torch.testing.assert_close(mask_pred, out["mask_pred"], atol=1e-10, rtol=0)
    torch.testing.assert_close(mask_emb, out["mask_emb"], atol=1e-10, rtol=0)


def test_intermediates_match_official(ref, model):
    out = ref["outputs"]
    with torch.no_grad():
        feats = model.clip_features(ref["inputs"]["image"])
        _, _, biases = model.forward_all(ref["inputs"]["image"])
    for i in range(3):
        torch.testing.assert_close(
            feats[i], out["clip_features"][str(i)], atol=1e-10, rtol=0
        )
        cls = out["clip_features"][f"{i}_cls_token"][0]  # official: (1, B, C), LND
        torch.testing.assert_close(feats[f"{i}_cls_token"], cls, atol=1e-10, rtol=0)
    assert len(biases) == 1 and len(biases[0]) == 1  # eval: last depth, one layer
    torch.testing.assert_close(biases[0][0], out["attn_bias"], atol=1e-10, rtol=0)


def test_recognition_mask_matches_official(ref, model):
    out = ref["outputs"]
    head = model.clip_rec_head
    mask = head.attention_masks(out["attn_bias"], (4, 4))  # (B, heads, 25, 25)
    B, heads = mask.shape[:2]
    # official layout: (B*heads, n, n) with index b*heads + h
    torch.testing.assert_close(
        mask.reshape(B * heads, 25, 25), out["rec_attn_mask"], atol=0, rtol=0
    )
    # the SOS->patch block is the max-pooled bias, not an interpolated one
    pooled = torch.nn.functional.adaptive_max_pool2d(
        out["attn_bias"].reshape(B, -1, 8, 8), (4, 4)
    ).reshape(B, heads, 8, 16)
    torch.testing.assert_close(sos_attention_mask(pooled, 8)[..., :8, 9:], pooled)


def test_strict_load_rejects_wrong_keys(ref):
    m = build_san_from_official_config(ref["config"]).double()
    sd = dict(ref["state_dict"])
    sd.pop("clip_rec_head.proj")
    with pytest.raises(RuntimeError, match="clip_rec_head.proj"):
        m.load_state_dict(sd, strict=True)


def test_bad_config_names_the_entry(ref):
    cfg = {k: v for k, v in ref["config"].items() if k != "side_adapter"}
    with pytest.raises(ValueError, match="side_adapter"):
        build_san_from_official_config(cfg)
    cfg = dict(ref["config"], san=dict(ref["config"]["san"], REC_CROSS_ATTN=True))
    with pytest.raises(ValueError, match="REC_CROSS_ATTN"):
        build_san_from_official_config(cfg)
