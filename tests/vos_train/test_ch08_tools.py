"""Chapter 8 tools: long-term attention maps, the frame scrubber, the object-count set."""

import math

import numpy as np
import pytest
import torch

import mvk_tutorial.vos.deaot.attention as attention_mod
from mvk_tutorial.vos.attention_maps import long_term_attention
from mvk_tutorial.vos.deaot import build_deaot
from mvk_tutorial.vos.scrubber import frame_scrubber, overlay_mask, scrubber_frames


def _frames(rng, n=2, h=64, w=112):
    return [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_long_term_weights_are_the_ones_the_network_uses(monkeypatch):
    """Record every softmax-attention call the network makes and recompute, with torch,
    the first long-term read of the current frame: it must equal our map."""
    torch.manual_seed(0)
    model = build_deaot("deaot-mini").eval()
    rng = np.random.default_rng(0)
    ref, cur = _frames(rng)
    mask = np.zeros(ref.shape[:2], np.uint8)
    mask[10:30, 20:50], mask[35:60, 70:100] = 1, 2
    calls = []
    real = attention_mod.global_attention

    def spy(Q, K, V, scale, *a, **k):
        calls.append((Q.clone(), K.clone(), scale))
        return real(Q, K, V, scale, *a, **k)

    monkeypatch.setattr(attention_mod, "global_attention", spy)
    weights, (h, w) = long_term_attention(model, ref, mask, cur, layer=0)
    n_layers = len(model.LSTT.layers)
    # reference pass: (long-term, self) per layer; then the current frame's layer 0
    Q, K, scale = calls[2 * n_layers]
    expected = torch.softmax((Q[:, 0] * scale) @ K[:, 0].T, dim=-1)
    assert weights.shape == (h * w, h * w) == expected.shape
    assert torch.allclose(weights, expected, atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(h * w), atol=1e-5)
    assert math.isclose(scale, 1 / math.sqrt(Q.shape[-1]))
    assert (h, w) == (5, 8)  # 64x112 -> input 65x113 -> (16k+1) -> k+1 tokens


def test_long_term_attention_names_bad_input():
    model = build_deaot("deaot-mini").eval()
    rng = np.random.default_rng(1)
    ref, cur = _frames(rng)
    with pytest.raises(ValueError, match="reference_mask"):
        long_term_attention(model, ref, np.zeros((3, 3), np.uint8), cur)
    with pytest.raises(ValueError, match="layer"):
        long_term_attention(model, ref, np.zeros(ref.shape[:2], np.uint8), cur, layer=9)


def test_overlay_tints_objects_only():
    frame = np.full((8, 8, 3), 100, np.uint8)
    mask = np.zeros((8, 8), np.uint8)
    mask[2:4, 2:4] = 1
    out = overlay_mask(frame, mask, alpha=0.5)
    assert (out[mask == 0] == 100).all()
    from mvk_tutorial.vos.data import DAVIS_PALETTE

    want = ((100 + DAVIS_PALETTE[1].astype(float)) / 2).astype(np.uint8)
    assert (np.abs(out[2, 2].astype(int) - want.astype(int)) <= 1).all()
    with pytest.raises(ValueError, match="mask"):
        overlay_mask(frame, mask[:4])


def test_scrubber_links_slider_to_frames_in_the_browser():
    import ipywidgets as widgets

    rng = np.random.default_rng(2)
    frames = _frames(rng, n=5)
    masks = [np.zeros(frames[0].shape[:2], np.uint8) for _ in frames]
    pics = scrubber_frames(frames, {"truth": masks, "pred": masks}, width=56, every=2)
    assert len(pics) == 3 and pics[0].shape == (32, 112, 3)
    box = frame_scrubber(frames, {"truth": masks, "pred": masks}, width=56, every=2)
    controls, stack = box.children
    play, slider = controls.children
    assert isinstance(stack, widgets.Stack) and len(stack.children) == 3
    assert slider.max == 2 and play.max == 2
    pairs = {(l.source[0].model_id, l.source[1], l.target[0].model_id, l.target[1])
             for l in box.links}
    assert (slider.model_id, "value", stack.model_id, "selected_index") in pairs
    assert (play.model_id, "value", slider.model_id, "value") in pairs
    with pytest.raises(ValueError, match="panels"):
        scrubber_frames(frames, {"truth": masks[:2]})


def test_object_count_videos_have_exactly_n_objects(tmp_path):
    from mvk_tutorial.vos.data import list_sequences, load_sequence
    from mvk_tutorial.vos.object_count import write_object_count_set

    root = write_object_count_set(tmp_path, counts=(1, 6), videos=1, num_frames=4)
    names = list_sequences(root, year="2017", split="val")
    assert names == ["obj01_0", "obj06_0"]
    for name, n in zip(names, (1, 6)):
        first = load_sequence(root, name).read_annotations()[0]
        assert sorted(set(np.unique(first).tolist()) - {0}) == list(range(1, n + 1))


def test_single_branch_reads_the_summed_value(monkeypatch):
    """deaot-mini-single: one token stream; its first long-term read over the reference
    frame uses value = visual V + ID V, recomputed here from the layer's own linears."""
    import torch.nn.functional as F

    from mvk_tutorial.vos.deaot.single_branch import SingleBranchStack

    torch.manual_seed(0)
    single, dual = build_deaot("deaot-mini-single").eval(), build_deaot("deaot-mini").eval()
    assert isinstance(single.LSTT, SingleBranchStack)
    n_single = sum(p.numel() for p in single.parameters())
    assert n_single < sum(p.numel() for p in dual.parameters())
    calls = []
    real = attention_mod.global_attention

    def spy(Q, K, V, scale, *a, **k):
        calls.append(V.clone())
        return real(Q, K, V, scale, *a, **k)

    monkeypatch.setattr(attention_mod, "global_attention", spy)
    x = torch.randn(1, 3, 65, 113)
    mask = torch.zeros(1, 1, 65, 113, dtype=torch.long)
    mask[..., 10:30, 20:50], mask[..., 35:60, 70:100] = 1, 2
    feats = single.encode_image(x)
    single.encode_memory(feats, mask, 2)
    layer = single.LSTT.layers[0]
    tokens = feats[-1].flatten(2).permute(2, 0, 1)  # (h*w, 1, 64)
    _, V = layer.linear_QV(layer.norm1(tokens)).split([32, 128], dim=-1)
    id_emb = single.id_embedding(mask, 2)
    want = F.silu(V) + F.silu(layer.linear_ID_V(id_emb))  # (h*w, 1, 128)
    assert torch.allclose(calls[0], want, atol=1e-5)


def test_single_branch_trains_and_segments():
    from mvk_tutorial.vos.deaot.segment import segment_video
    from mvk_tutorial.vos.train import ClipTrainer

    torch.manual_seed(0)
    model = build_deaot("deaot-mini-single").train()
    frames = torch.randn(2, 3, 3, 49, 49)
    masks = torch.zeros(2, 3, 1, 49, 49, dtype=torch.long)
    masks[..., 5:20, 5:20], masks[..., 30:45, 30:45] = 1, 2
    loss, pred = ClipTrainer(model)(frames, masks, torch.tensor([2, 2]), 1.0)
    loss.backward()
    assert torch.isfinite(loss) and pred.shape == (2, 2, 49, 49)
    grads = [p.grad for p in model.LSTT.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    rng = np.random.default_rng(3)
    video = _frames(rng, n=3, h=48, w=64)
    first = np.zeros((48, 64), np.uint8)
    first[5:20, 5:20] = 1
    out = segment_video(model.eval(), video, first)
    assert len(out) == 3 and out[1].shape == (48, 64) and int(out[1].max()) <= 1
