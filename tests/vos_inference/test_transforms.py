"""Preprocessing pinned against values computed here from the official rule
(aot-benchmark ``MultiRestrictSize`` / ``MultiToTensor`` / evaluator), never from the
code under test: input size, bicubic resize, normalisation, label and logit resizing."""

import math
import random

import cv2
import numpy as np
import pytest
import torch

from mvk_tutorial.vos.deaot import build_deaot
from mvk_tutorial.vos.inference import DeAOTEngine, VOSSession
from mvk_tutorial.vos.inference.transforms import (
    official_input_size,
    preprocess,
    resize_label,
    upsample_logits,
)


def rule_size(h, w, long_edge=1040, short_edge=None, align=True, scale=1.0, stride=16):
    """The official rule, written out independently: short-edge limit, then the
    long-edge limit on the result, times the scale, truncated with int(), then sides
    not yet of the form stride*k (+1) rounded to the nearest, halves to even."""
    nh, nw = float(h), float(w)
    if short_edge is not None:
        s = w if h > w else h
        if s > short_edge:
            f = float(short_edge) / s
            nh, nw = f * nh, f * nw
    if long_edge is not None:
        big = nh if nh > nw else nw
        if big > long_edge:
            f = float(long_edge) / big
            nh, nw = f * nh, f * nw
    out = []
    for side in (int(nh * scale), int(nw * scale)):
        base = side - 1 if align else side
        if base % stride:
            q = base / stride
            k = round(q)  # Python's round() rounds halves to even, as np.around
            side = k * stride + (1 if align else 0)
        out.append(side)
    return tuple(out)


@pytest.mark.parametrize(
    "size, kwargs, expected",
    [
        ((480, 854), {}, (481, 849)),  # DAVIS, MobileNet / ResNet
        ((480, 854), {"align_corners": False}, (480, 848)),  # DAVIS, Swin
        ((1837, 2110), {}, (897, 1041)),  # truncation before snapping
        ((1154, 1682), {}, (705, 1041)),
        ((749, 2157), {}, (353, 1041)),
        ((1080, 1920), {"max_short_edge": 624}, (577, 1041)),  # long edge after short
        ((1080, 1920), {}, (577, 1041)),  # 585 - 1 = 36.5 * 16: half to even -> 36
        ((600, 1100), {}, (561, 1041)),  # 567.27 -> 567 -> 561; 1040 -> 1041
        ((481, 849), {}, (481, 849)),  # already of the form 16k+1: unchanged
    ],
)
def test_official_input_size_listed(size, kwargs, expected):
    assert official_input_size(*size, **kwargs) == expected
    rule_kwargs = {
        "short_edge": kwargs.get("max_short_edge"),
        "align": kwargs.get("align_corners", True),
    }
    assert rule_size(*size, **rule_kwargs) == expected  # the reference agrees


def test_official_input_size_random_sizes():
    rng = random.Random(0)
    for _ in range(3000):
        h, w = rng.randint(16, 4000), rng.randint(16, 4000)
        long_edge = rng.choice([None, 1040, 800, 624 * 1.3])
        short_edge = rng.choice([None, None, 480, 624])
        align = rng.random() < 0.7
        scale = rng.choice([1.0, 1.0, 1.3, 0.75])
        got = official_input_size(h, w, long_edge, short_edge, align, scale=scale)
        assert got == rule_size(h, w, long_edge, short_edge, align, scale), (
            h, w, long_edge, short_edge, align, scale,
        )
        off = 1 if align else 0
        assert all((s - off) % 16 == 0 for s in got)
    # the halves really occur, so the rounding mode is exercised
    assert rule_size(1080, 1920) == (577, 1041) and math.floor(36.5 + 0.5) == 37


def _frame(h=70, w=101, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def test_preprocess_is_bicubic_then_imagenet_normalisation():
    frame = _frame()
    size = official_input_size(*frame.shape[:2])  # (65, 97)
    x = preprocess(frame, size)
    # reference: OpenCV bicubic on float32 RGB, then /255, -mean, /std in float64
    ref = cv2.resize(frame.astype(np.float32), (size[1], size[0]), interpolation=2)
    ref = (ref / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    ref = torch.from_numpy(ref.transpose(2, 0, 1)[None]).float()
    assert x.shape == (1, 3, *size) and x.dtype == torch.float32
    torch.testing.assert_close(x, ref, atol=2e-6, rtol=0)
    # informative: bilinear, or another std, would be told apart
    lin = cv2.resize(frame.astype(np.float32), (size[1], size[0]), interpolation=1)
    assert np.abs(lin / 255.0 - ref.numpy()[0].transpose(1, 2, 0) * 0.229).max() > 1e-3
    flipped = preprocess(frame, size, flip=True)
    torch.testing.assert_close(flipped, torch.flip(ref, dims=[-1]), atol=2e-6, rtol=0)


def test_resize_label_is_nearest_floor():
    g = np.random.default_rng(1)
    label = g.integers(0, 4, (50, 77))
    out = resize_label(torch.from_numpy(label).view(1, 1, 50, 77), (65, 97))[0, 0]
    # reference: destination pixel i takes source floor(i * in / out)
    rows = np.floor(np.arange(65) * (50 / 65)).astype(int)
    cols = np.floor(np.arange(97) * (77 / 97)).astype(int)
    np.testing.assert_array_equal(out.numpy(), label[rows][:, cols])
    assert out.dtype == torch.int64


def _bilinear_align_corners(x, H, W):
    """Brute-force bilinear interpolation with corner pixels aligned, (C, h, w) numpy."""
    C, h, w = x.shape
    out = np.zeros((C, H, W))
    for i in range(H):
        y = i * (h - 1) / (H - 1)
        y0 = min(int(math.floor(y)), h - 2)
        fy = y - y0
        for j in range(W):
            xx = j * (w - 1) / (W - 1)
            x0 = min(int(math.floor(xx)), w - 2)
            fx = xx - x0
            out[:, i, j] = (
                x[:, y0, x0] * (1 - fy) * (1 - fx)
                + x[:, y0, x0 + 1] * (1 - fy) * fx
                + x[:, y0 + 1, x0] * fy * (1 - fx)
                + x[:, y0 + 1, x0 + 1] * fy * fx
            )
    return out


def test_upsample_logits_bilinear_align_corners():
    x = torch.randn(1, 3, 9, 13, generator=torch.Generator().manual_seed(0))
    out = upsample_logits(x, (30, 47), align_corners=True)
    ref = torch.from_numpy(_bilinear_align_corners(x[0].double().numpy(), 30, 47))
    torch.testing.assert_close(out[0].double(), ref, atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_deaot("deaot-t")


def test_engine_upsamples_stride4_logits_straight_to_the_video_size(model):
    g = torch.Generator().manual_seed(3)
    frames = [torch.randn(1, 3, 65, 97, generator=g) for _ in range(2)]
    mask = torch.zeros(1, 1, 65, 97, dtype=torch.long)
    mask[..., 10:30, 20:50] = 1
    engine = DeAOTEngine(model)
    engine.add_reference(frames[0], mask, 1)
    out = engine.propagate(frames[1], (50, 77))
    # reference from the model's own calls, upsampled by the brute-force bilinear
    with torch.inference_mode():
        mem = model.encode_memory(model.encode_image(frames[0]), mask, 1)
        feats = model.encode_image(frames[1])
        tokens, _ = model.match_memory(feats, mem, mem)
        small = model.decode(tokens, feats, 2)  # (1, 2, 17, 25) at stride 4
    ref = _bilinear_align_corners(small[0].double().numpy(), 50, 77)
    torch.testing.assert_close(out[0].double(), torch.from_numpy(ref), atol=1e-4, rtol=0)


def test_session_feeds_the_official_inputs_to_the_engine(model, monkeypatch):
    """The session resizes the frame bicubically, normalises it, and nearest-resizes the
    mask to the input size before the engine sees them."""
    seen = {}

    def spy(self, frame, mask, num_objects):
        seen.update(frame=frame, mask=mask, n=num_objects)
        self.groups = [object()]  # stop here: this test checks the inputs only

    monkeypatch.setattr(DeAOTEngine, "add_reference", spy)
    frame = _frame(50, 77, seed=2)
    mask = np.zeros((50, 77), np.uint8)
    mask[5:30, 10:40], mask[30:45, 50:70] = 3, 8  # ids 3 and 8 -> slots 1 and 2
    session = VOSSession(model)
    state = session.init_state([frame, frame])
    session.add_mask(state, 0, mask)
    t, ids, out = next(session.propagate(state))
    assert (t, ids) == (0, [3, 8]) and (out == mask).all()
    h, w = rule_size(50, 77)  # (49, 81): the official input is not always larger
    ref = cv2.resize(frame.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    ref = (ref / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    torch.testing.assert_close(
        seen["frame"], torch.from_numpy(ref.transpose(2, 0, 1)[None]).float(),
        atol=2e-6, rtol=0,
    )
    rows = np.floor(np.arange(h) * (50 / h)).astype(int)
    cols = np.floor(np.arange(w) * (77 / w)).astype(int)
    slots = np.select([mask == 3, mask == 8], [1, 2], 0)
    np.testing.assert_array_equal(seen["mask"][0, 0].numpy(), slots[rows][:, cols])
    assert seen["n"] == 2
