"""AOT: official key layout (strict load of a dict built from the documented names),
local attention against a loop, and the model running in the DeAOT engine."""

import math

import pytest
import torch
import torchvision

from mvk_tutorial.vos.aot import build_aot
from mvk_tutorial.vos.aot.layers import MultiheadLocalAttention, sine_position_embedding
from mvk_tutorial.vos.deaot.checkpoint import load_state_dict_checked


def _official_aot_t_shapes(num_layers=1, C=256, heads=8, ff=1024, ws2=225):
    """Key -> shape of an official AOT-T/S/B checkpoint, written from aot-benchmark's
    module names (models/aot.py, layers/transformer.py, attention.py, decoders/fpn.py)."""
    shapes = {}
    mnv2 = torchvision.models.mobilenet_v2().features.state_dict()
    for k, v in mnv2.items():  # frozen BN keeps no num_batches_tracked
        if not k.endswith("num_batches_tracked"):
            shapes[f"encoder.features.{k}"] = tuple(v.shape)
    shapes["encoder_projector.weight"] = (C, 1280, 1, 1)
    shapes["encoder_projector.bias"] = (C,)
    lin = lambda o, i: {"weight": (o, i), "bias": (o,)}  # noqa: E731
    for i in range(num_layers):
        p = f"LSTT.layers.{i}."
        blocks = {
            "norm1": {"weight": (C,), "bias": (C,)},
            "linear_Q": lin(C, C),
            "linear_V": lin(C, C),
            "long_term_attn.projection": lin(C, C),
            "short_term_attn.relative_emb_k": {"weight": (heads * ws2, C // heads, 1, 1),
                                               "bias": (heads * ws2,)},
            "short_term_attn.projection": lin(C, C),
            "norm2": {"weight": (C,), "bias": (C,)},
            "self_attn.linear_Q": lin(C, C),
            "self_attn.linear_K": lin(C, C),
            "self_attn.linear_V": lin(C, C),
            "self_attn.projection": lin(C, C),
            "norm3": {"weight": (C,), "bias": (C,)},
            "linear1": lin(ff, C),
            "activation.gn": {"weight": (ff,), "bias": (ff,)},
            "activation.conv": {"weight": (ff, 1, 5, 5)},
            "linear2": lin(C, ff),
        }
        for name, params in blocks.items():
            for pn, shape in params.items():
                shapes[f"{p}{name}.{pn}"] = shape
        shapes[f"{p}short_term_attn.relative_emb_v"] = (heads, C // heads, ws2)
    for i in range(num_layers):  # intermediate norms + the final norm
        shapes[f"LSTT.decoder_norms.{i}.weight"] = (C,)
        shapes[f"LSTT.decoder_norms.{i}.bias"] = (C,)
    dec = {
        "conv_in": (C, C * (num_layers + 1), 1), "conv_16x": (C, C, 3),
        "conv_8x": (C // 2, C, 3), "conv_4x": (C // 2, C // 2, 3),
    }
    for name, (o, i_, k) in dec.items():
        shapes[f"decoder.{name}.conv.weight"] = (o, i_, k, k)
        shapes[f"decoder.{name}.conv.bias"] = (o,)
        shapes[f"decoder.{name}.gn.weight"] = (o,)
        shapes[f"decoder.{name}.gn.bias"] = (o,)
    for name, (o, i_) in {"adapter_16x": (C, 96), "adapter_8x": (C, 32),
                          "adapter_4x": (C // 2, 24), "conv_out": (11, C // 2)}.items():
        shapes[f"decoder.{name}.weight"] = (o, i_, 1, 1)
        shapes[f"decoder.{name}.bias"] = (o,)
    shapes["patch_wise_id_bank.weight"] = (C, 11, 17, 17)
    shapes["patch_wise_id_bank.bias"] = (C,)
    return shapes


@pytest.mark.parametrize("name,layers", [("aot-t", 1), ("aot-s", 2)])
def test_official_layout_loads_strictly(name, layers):
    model = build_aot(name)
    shapes = _official_aot_t_shapes(layers)
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert own == shapes
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    load_state_dict_checked(model, state, "official-layout dict")
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])
    top = list(dict.fromkeys(k.split(".")[0] for k in model.state_dict()))
    assert top == ["encoder", "encoder_projector", "LSTT", "decoder", "patch_wise_id_bank"]
    bad = dict(state)
    bad.pop("LSTT.layers.0.linear_V.weight")
    with pytest.raises(ValueError, match="linear_V"):
        load_state_dict_checked(build_aot(name), bad, "official-layout dict")


def test_local_attention_matches_loop():
    torch.manual_seed(0)
    h, w, B, C, H, r = 4, 5, 2, 8, 2, 2
    att = MultiheadLocalAttention(C, H, max_dis=r)
    torch.nn.init.normal_(att.relative_emb_v)
    q, k, v = (torch.randn(h * w, B, C) for _ in range(3))
    out, _ = att(q, k, v, (h, w))
    ws, d = 2 * r + 1, C // H
    rel = att.relative_emb_k(q.permute(1, 2, 0).reshape(B, C, h, w))  # (B, H*ws2, h, w)
    ref = torch.zeros(h * w, B, C)
    for b in range(B):
        for hd in range(H):
            sl = slice(hd * d, (hd + 1) * d)
            for y in range(h):
                for x in range(w):
                    logits, vals, offs = [], [], []
                    for dy in range(-r, r + 1):
                        for dx in range(-r, r + 1):
                            yy, xx = y + dy, x + dx
                            if 0 <= yy < h and 0 <= xx < w:
                                o = (dy + r) * ws + (dx + r)
                                qq = q[y * w + x, b, sl]
                                kk = k[yy * w + xx, b, sl]
                                logits.append(qq @ kk / math.sqrt(d)
                                              + rel[b, hd * ws * ws + o, y, x])
                                vals.append(v[yy * w + xx, b, sl] + att.relative_emb_v[hd, :, o])
                    a = torch.softmax(torch.stack(logits), 0)
                    ref[y * w + x, b, sl] = (a[:, None] * torch.stack(vals)).sum(0)
    torch.testing.assert_close(out, att.projection(ref), rtol=1e-4, atol=1e-5)


def test_sine_position_embedding_formula():
    pos = sine_position_embedding(3, 4, 8)  # (12, 1, 8): 4 row + 4 column channels
    y, x = 2, 1
    ny, nx = y / (2 + 1e-6) * 2 * math.pi, x / (3 + 1e-6) * 2 * math.pi
    f = [10000 ** (2 * (i // 2) / 4) for i in range(4)]
    row = [math.sin(ny / f[0]), math.cos(ny / f[1]), math.sin(ny / f[2]), math.cos(ny / f[3])]
    col = [math.sin(nx / f[0]), math.cos(nx / f[1]), math.sin(nx / f[2]), math.cos(nx / f[3])]
    torch.testing.assert_close(pos[y * 4 + x, 0], torch.tensor(row + col), rtol=1e-5, atol=1e-6)


def test_aot_mini_runs_in_the_deaot_engine():
    from mvk_tutorial.vos.deaot.engine import DeAOTEngine

    torch.manual_seed(0)
    eng = DeAOTEngine(build_aot("aot-mini"))
    frame = torch.randn(1, 3, 49, 65)
    mask = torch.zeros(1, 1, 49, 65, dtype=torch.long)
    mask[..., 10:30, 10:40] = 1
    mask[..., 35:45, 50:60] = 2
    eng.add_reference(frame, mask, 2)
    for _ in range(2):
        logits = eng.propagate(frame + 0.1 * torch.randn_like(frame))
        assert logits.shape == (1, 3, 49, 65) and torch.isfinite(logits).all()
        eng.update_memory(logits.argmax(1, keepdim=True))
