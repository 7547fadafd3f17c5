"""Session API: add_mask at any frame, late objects, non-contiguous ids, flip states,
and the model interface (reference ID values fused once). Tiny frames: 33x49 inputs
(3x4 tokens), untrained weights; the checks are invariants and independent
recomputations with the model's own calls."""

import numpy as np
import pytest
import torch

from mvk_tutorial.vos.deaot import build_deaot
from mvk_tutorial.vos.deaot.gpm import GatedPropagationModule
from mvk_tutorial.vos.inference import DeAOTEngine, FlipState, VOSSession
from mvk_tutorial.vos.inference.transforms import preprocess

H, W = 33, 49  # already of the form 16k+1: the input is the frame itself


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_deaot("deaot-s")  # two GPM layers: layer 1 fuses id_input too


def _video(T, seed=0):
    g = np.random.default_rng(seed)
    base = g.integers(0, 256, (H, W, 3)).astype(np.uint8)
    return [np.roll(base, 2 * t, axis=1) for t in range(T)]


def _box(value, y, x, h=10, w=12):
    m = np.zeros((H, W), np.uint8)
    m[y : y + h, x : x + w] = value
    return m


def _run(model, frames, masks, **kw):
    session = VOSSession(model, **kw)
    state = session.init_state(frames)
    for t, m in masks.items():
        session.add_mask(state, t, m)
    return state, list(session.propagate(state))


def test_reference_id_values_are_fused_once(model, monkeypatch):
    calls = []
    orig = GatedPropagationModule.fuse_id_value

    def counting(self, id_input, id_emb):
        calls.append(self.layer_idx)
        return orig(self, id_input, id_emb)

    monkeypatch.setattr(GatedPropagationModule, "fuse_id_value", counting)
    x = preprocess(_video(1)[0], (H, W))
    mask = torch.from_numpy(_box(1, 5, 5)).long().view(1, 1, H, W)
    engine = DeAOTEngine(model)
    engine.add_reference(x, mask, 1)
    assert calls == [0, 1]  # once per layer (the old engine fused each layer twice)
    # same memory as the two-step path: self-propagation, then fuse_memory
    with torch.inference_mode():
        feats = model.encode_image(x)
        id_emb = model.id_embedding(mask, 1)
        _, frames = model.propagate(feats, None, None, id_emb)
        ref = model.fuse_memory(frames, id_emb)
    for got, exp in zip(engine.groups[0].long_term, ref):
        torch.testing.assert_close(got.K, exp.K)
        torch.testing.assert_close(got.V, exp.V)


def test_noncontiguous_ids_give_the_relabelled_result(model):
    frames = _video(4, seed=1)
    a, b = _box(1, 4, 4), _box(1, 18, 30)
    _, plain = _run(model, frames, {0: a + 2 * b})
    _, odd = _run(model, frames, {0: 3 * a + 8 * b})
    lut = np.array([0, 3, 8], np.uint8)
    for (t1, ids1, m1), (t2, ids2, m2) in zip(plain, odd):
        assert t1 == t2 and ids1 == [1, 2] and ids2 == [3, 8]
        np.testing.assert_array_equal(lut[m1], m2)


def test_late_object_joins_with_the_merged_label_as_reference(model):
    frames = _video(5, seed=2)
    first, late = _box(4, 3, 3), _box(9, 18, 30)
    state, out = _run(model, frames, {0: first, 2: late})
    _, alone = _run(model, frames[:2], {0: first})
    assert [t for t, _, _ in out] == [0, 1, 2, 3, 4]
    for (_, _, m), (_, _, m_alone) in zip(out[:2], alone):  # causality
        np.testing.assert_array_equal(m, m_alone)
    assert [ids for _, ids, _ in out] == [[4], [4], [4, 9], [4, 9], [4, 9]]
    m2 = out[2][2]
    np.testing.assert_array_equal(m2[late > 0], 9)  # the given object overwrites
    assert set(np.unique(m2)) <= {0, 4, 9}
    for _, _, m in out[:2]:
        assert 9 not in m
    # after frame 2 the memory is [frame 0, frame 2 with the merged label], both
    # reference frames: recompute the frame-2 entry with the model's own calls
    engine = state.engine
    bank = engine.groups[0]
    assert engine.num_objects == 2
    slots = torch.from_numpy(np.select([m2 == 4, m2 == 9], [1, 2], 0))
    with torch.inference_mode():
        feats = model.encode_image(preprocess(frames[2], (H, W)))
        entry2 = model.encode_memory(feats, slots.view(1, 1, H, W), 2)
        feats0 = model.encode_image(preprocess(frames[0], (H, W)))
        entry0 = model.encode_memory(
            feats0, torch.from_numpy((first > 0).astype(np.int64)).view(1, 1, H, W), 1
        )
    N = entry2[0].K.shape[0]
    # frames 3 and 4 were short-term only (gap 9999): long-term = [ref 0, ref 2]
    assert bank.is_reference == [True, True]
    for mem, e0, e2 in zip(bank.long_term, entry0, entry2):
        assert mem.K.shape[0] == 2 * N
        torch.testing.assert_close(mem.K[:N], e0.K, atol=1e-5, rtol=0)
        torch.testing.assert_close(mem.K[N:], e2.K, atol=1e-5, rtol=0)
        torch.testing.assert_close(mem.V[N:], e2.V, atol=1e-5, rtol=0)


def test_first_mask_after_frame_zero_and_gap_memory(model):
    frames = _video(4, seed=3)
    state, out = _run(model, frames, {1: _box(2, 5, 5)}, long_term_gap=1)
    assert [t for t, _, _ in out] == [1, 2, 3]  # nothing before the first mask
    assert state.engine.groups[0].is_reference == [False, False, True]


def test_objects_beyond_ten_open_a_new_group_late(model):
    frames = _video(3, seed=4)
    m0 = np.zeros((H, W), np.uint8)
    for i in range(10):  # ten 3x4 blobs
        m0[(i // 5) * 4 : (i // 5) * 4 + 3, (i % 5) * 8 : (i % 5) * 8 + 4] = i + 1
    late = np.zeros((H, W), np.uint8)
    late[20:26, 2:10], late[20:26, 30:40] = 20, 30
    state, out = _run(model, frames, {0: m0, 1: late})
    engine = state.engine
    assert [g.num_objects for g in engine.groups] == [10, 2]
    assert engine.groups[0].is_reference == [True, True]  # frame 0 and frame 1
    assert engine.groups[1].is_reference == [True]  # the new group starts at frame 1
    assert out[-1][1] == list(range(1, 11)) + [20, 30]
    assert set(np.unique(out[-1][2])) <= set(range(11)) | {20, 30}


def test_flip_is_two_states_on_the_mirrored_video(model):
    frames = _video(2, seed=5)
    mask = _box(1, 4, 4)
    session = VOSSession(model, flip=True)
    state = session.init_state(frames)
    assert isinstance(state, FlipState) and [s.mirrored for s in state.states] == [
        False,
        True,
    ]
    session.add_mask(state, 0, mask)
    assert state.states[1].prompts is state.states[0].prompts  # shared masks
    next(session.propagate(state))  # frame 0: both states add their reference
    mirrored = VOSSession(model).init_state([f[:, ::-1].copy() for f in frames])
    plain = VOSSession(model)
    plain.add_mask(mirrored, 0, mask[:, ::-1].copy())
    next(plain.propagate(mirrored))
    for a, b in zip(state.states[1].engine.groups[0].long_term, mirrored.engine.groups[0].long_term):
        torch.testing.assert_close(a.K, b.K, atol=1e-5, rtol=0)
        torch.testing.assert_close(a.V, b.V, atol=1e-5, rtol=0)


def test_session_input_size_limits(model):
    video = [np.zeros((1080, 1920, 3), np.uint8)]
    assert VOSSession(model).init_state(video).input_size == (577, 1041)
    s = VOSSession(model, max_short_edge=624, max_long_edge=None)
    assert s.init_state(video).input_size == (625, 1105)  # 624 x 1109.3 -> 1105


def test_session_errors(model):
    session = VOSSession(model)
    state = session.init_state(_video(2))
    with pytest.raises(RuntimeError, match="add_mask"):
        next(session.propagate(state))
    with pytest.raises(ValueError, match="shape"):
        session.add_mask(state, 0, np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match="no object"):
        session.add_mask(state, 0, np.zeros((H, W), np.uint8))
    with pytest.raises(ValueError, match="frame_idx"):
        session.add_mask(state, 7, _box(1, 1, 1))
    with pytest.raises(ValueError, match="uint8"):
        session.init_state([np.zeros((H, W), np.float32)])
    with pytest.raises(FileNotFoundError, match="frames"):
        session.init_state("/nonexistent/folder")
    session.add_mask(state, 0, _box(1, 1, 1))
    gen = session.propagate(state)
    next(gen)
    with pytest.raises(RuntimeError, match="before propagate"):
        session.add_mask(state, 1, _box(2, 1, 1))
