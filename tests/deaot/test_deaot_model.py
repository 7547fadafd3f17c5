"""DeAOT variants: official key names/shapes, multi-layer propagation against a dense
re-implementation, windowed local attention against the dense formulation."""

import importlib.util
from pathlib import Path

import pytest
import torch

from mvk_tutorial.vos.deaot import CONFIGS, DeAOTEngine, build_deaot
from mvk_tutorial.vos.deaot.attention import (
    local_attention_dense,
    local_attention_windowed,
)

_spec = importlib.util.spec_from_file_location(
    "deaot_reference_impl", Path(__file__).with_name("reference_impl.py")
)
reference_impl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference_impl)


def naive_local_attention(q, k, v, rel, r=7):
    """Loop over positions and offsets: softmax over in-image window keys."""
    B, h, w, _ = q.shape
    out = torch.zeros(B, h, w, v.shape[-1], dtype=torch.float64)
    ws = 2 * r + 1
    for b in range(B):
        for y in range(h):
            for x in range(w):
                logits, vals = [], []
                for dy in range(-r, r + 1):
                    for dx in range(-r, r + 1):
                        if 0 <= y + dy < h and 0 <= x + dx < w:
                            o = (dy + r) * ws + (dx + r)
                            logits.append(
                                q[b, y, x] @ k[b, y + dy, x + dx] + rel[b, y, x, o]
                            )
                            vals.append(v[b, y + dy, x + dx])
                a = torch.softmax(torch.stack(logits).double(), 0)
                out[b, y, x] = (a[:, None] * torch.stack(vals).double()).sum(0)
    return out.float()


@pytest.mark.parametrize("h,w,tile", [(5, 7, 8), (11, 19, 4), (17, 10, 8), (3, 30, 6)])
def test_windowed_local_attention_equals_dense_and_naive(h, w, tile):
    g = torch.Generator().manual_seed(h * 100 + w)
    q, k = torch.randn(2, h, w, 16, generator=g), torch.randn(2, h, w, 16, generator=g)
    v, rel = (
        torch.randn(2, h, w, 24, generator=g),
        torch.randn(2, h, w, 225, generator=g),
    )
    win = local_attention_windowed(q, k, v, rel, 7, tile)
    dense = local_attention_dense(q, k, v, rel, 7)
    torch.testing.assert_close(win, dense, atol=1e-5, rtol=1e-5)
    if h * w <= 60:
        torch.testing.assert_close(
            win, naive_local_attention(q, k, v, rel), atol=1e-5, rtol=1e-5
        )


def _official_mobilenet_layer_keys(i: int) -> dict[str, tuple]:
    """Keys of GPM layer i as listed in the reference facts (sec. 4)."""
    p = f"LSTT.layers.{i}."
    keys = {
        p + "norm1.weight": (256,),
        p + "norm1.bias": (256,),
        p + "linear_QV.weight": (640, 256),
        p + "linear_QV.bias": (640,),
        p + "linear_U.weight": (512, 256),
        p + "linear_U.bias": (512,),
        p + "norm2.weight": (256,),
        p + "norm2.bias": (256,),
        p + "id_norm2.weight": (256,),
        p + "id_norm2.bias": (256,),
        p + "self_attn.linear_QK.weight": (128, 512),
        p + "self_attn.linear_QK.bias": (128,),
        p + "self_attn.dw_conv.conv.weight": (1024, 1, 5, 5),
        p + "self_attn.projection.weight": (512, 1024),
        p + "self_attn.projection.bias": (512,),
    }
    for n in ("V1", "V2", "U1", "U2"):
        keys[p + f"self_attn.linear_{n}.weight"] = (512, 256)
        keys[p + f"self_attn.linear_{n}.bias"] = (512,)
    for a in ("long_term_attn", "short_term_attn"):
        keys[p + a + ".dw_conv.conv.weight"] = (1024, 1, 5, 5)
        keys[p + a + ".projection.weight"] = (512, 1024)
        keys[p + a + ".projection.bias"] = (512,)
    keys[p + "short_term_attn.relative_emb_k.weight"] = (225, 128, 1, 1)
    keys[p + "short_term_attn.relative_emb_k.bias"] = (225,)
    if i == 0:
        keys[p + "linear_ID_V.weight"], keys[p + "linear_ID_V.bias"] = (
            (512, 256),
            (512,),
        )
    else:
        keys[p + "id_norm1.weight"], keys[p + "id_norm1.bias"] = (256,), (256,)
        keys[p + "linear_ID_V.weight"], keys[p + "linear_ID_V.bias"] = (
            (512, 512),
            (512,),
        )
        keys[p + "linear_ID_U.weight"], keys[p + "linear_ID_U.bias"] = (
            (512, 256),
            (512,),
        )
    return keys


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_official_key_names_and_shapes(name):
    cfg = CONFIGS[name]
    sd = {k: tuple(v.shape) for k, v in build_deaot(name).state_dict().items()}
    for i in range(cfg.num_layers):
        for k, shape in _official_mobilenet_layer_keys(i).items():
            assert sd.pop(k) == shape, k
    assert not [k for k in sd if k.startswith("LSTT.layers.")]
    assert sd.pop("LSTT.decoder_norms.0.gn.weight") == (512,)
    assert sd.pop("LSTT.decoder_norms.0.gn.bias") == (512,)
    kernel = 17 if cfg.align_corners else 16
    assert sd.pop("patch_wise_id_bank.weight") == (256, 11, kernel, kernel)
    assert sd.pop("encoder_projector.weight") == (256, cfg.encoder_dims[-1], 1, 1)
    assert sd["decoder.adapter_16x.weight"] == (256, cfg.encoder_dims[2], 1, 1)
    assert sd["decoder.adapter_8x.weight"] == (256, cfg.encoder_dims[1], 1, 1)
    assert sd["decoder.adapter_4x.weight"] == (128, cfg.encoder_dims[0], 1, 1)
    assert sd["decoder.conv_out.weight"] == (11, 128, 1, 1)
    enc = {k[len("encoder.") :]: s for k, s in sd.items() if k.startswith("encoder.")}
    assert not any("num_batches_tracked" in k for k in enc)
    if cfg.encoder == "resnet50":  # torchvision's resnet50 names, without layer4 / fc
        import torchvision

        tv = torchvision.models.resnet50().state_dict()
        expected = {
            k: tuple(v.shape)
            for k, v in tv.items()
            if not k.startswith(("layer4", "fc")) and "num_batches_tracked" not in k
        }
        assert enc == expected
    elif cfg.encoder == "mobilenetv2":
        assert enc["features.0.0.weight"] == (32, 3, 3, 3)
        assert enc["features.18.0.weight"] == (1280, 320, 1, 1)
        assert max(int(k.split(".")[1]) for k in enc) == 18
    else:  # Swin-B: layers 0..3 with depths 2, 2, 18, 2; merging after 0..2; norm0..2
        blocks = {(k.split(".")[1], k.split(".")[3]) for k in enc if ".blocks." in k}
        assert sorted(blocks) == sorted(
            {(str(i), str(j)) for i, d in enumerate((2, 2, 18, 2)) for j in range(d)}
        )
        assert enc["layers.2.blocks.0.attn.relative_position_bias_table"] == (169, 16)
        assert enc["layers.2.downsample.reduction.weight"] == (1024, 2048)
        assert {k for k in enc if k.startswith("norm")} == {
            f"norm{i}.{p}" for i in range(3) for p in ("weight", "bias")
        }
        assert enc["patch_embed.proj.weight"] == (128, 3, 4, 4)


@pytest.mark.parametrize(
    "name,expected_m",
    [("deaot-t", 7.2), ("deaot-s", 10.2), ("deaot-b", 13.2), ("r50-deaot-l", 19.8)],
)
def test_parameter_counts_match_model_zoo(name, expected_m):
    n = sum(p.numel() for p in build_deaot(name).parameters())
    assert abs(n / 1e6 - expected_m) < 0.06


def _randomise(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.state_dict().values():
            if p.is_floating_point() and p.dim() == 1:  # norms and biases: move off 1/0
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model


@pytest.mark.parametrize("name,gap", [("deaot-s", 2), ("deaot-b", 9999)])
def test_multilayer_engine_matches_dense_reimplementation(name, gap):
    torch.manual_seed(0)
    model = _randomise(build_deaot(name))
    H, W, T = 129, 193, 4  # 9 x 13 tokens: the 15x15 window is partial
    g = torch.Generator().manual_seed(1)
    frames = [torch.randn(1, 3, H, W, generator=g) for _ in range(T)]
    masks = [torch.randint(0, 3, (1, 1, H, W), generator=g) for _ in range(T)]
    masks = [torch.nn.functional.max_pool2d(m.float(), 9, 1, 4).long() for m in masks]
    engine = DeAOTEngine(model, long_term_gap=gap)
    engine.add_reference(frames[0], masks[0], 2)
    ours = []
    for t in range(1, T):
        ours.append(engine.propagate(frames[t]))
        engine.update_memory(masks[t])
    ref = reference_impl.RefDeAOT(model, gap).run(frames, masks[0], 2, masks[1:])
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_global_attention_chunked_equals_einsum():
    from mvk_tutorial.vos.deaot.attention import global_attention

    g = torch.Generator().manual_seed(0)
    Q, K = torch.randn(50, 2, 16, generator=g), torch.randn(300, 2, 16, generator=g)
    V = torch.randn(300, 2, 24, generator=g)
    attn = torch.softmax(torch.einsum("lbd,nbd->bln", Q * 0.25, K), -1)
    ref = torch.einsum("bln,nbc->lbc", attn, V)
    for max_elements in (1 << 24, 700):  # one chunk; 7 query chunks
        out = global_attention(Q, K, V, 0.25, max_elements=max_elements)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
