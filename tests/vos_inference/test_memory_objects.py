"""Memory bank order and cap, and the object manager, against brute-force models."""

import random

import numpy as np
import pytest
import torch

from mvk_tutorial.vos.deaot.gpm import LayerMemory
from mvk_tutorial.vos.inference import MemoryBank, ObjectManager

N, LAYERS = 3, 2  # tokens per frame, GPM layers


def _entry(frame_id: int) -> list[LayerMemory]:
    """A fake memory entry whose every value is the frame's id (K: 1 ch, V: 2 ch)."""
    return [
        LayerMemory(
            torch.full((N, 1, 1), float(frame_id + 100 * layer)),
            torch.full((N, 1, 2), float(frame_id + 100 * layer)),
        )
        for layer in range(LAYERS)
    ]


def _frames_in(bank: MemoryBank, layer: int = 0) -> list[int]:
    K = bank.long_term[layer].K[:, 0, 0]
    assert torch.equal(bank.long_term[layer].V[:, 0, 0], K)
    ids = K.view(-1, N)  # (frames, N): every token of a block has the frame's id
    assert (ids == ids[:, :1]).all()
    return [int(i) - 100 * layer for i in ids[:, 0]]


@pytest.mark.parametrize("cap", [None, 1, 2, 3, 5])
def test_memory_bank_matches_a_list_model(cap):
    rng = random.Random(cap or 0)
    bank = MemoryBank(1, 2, max_long_term=cap)
    refs, preds = [], []  # the brute-force model: reference ids, predicted ids (new first)
    bank.add_reference(_entry(0))
    refs.append(0)
    for t in range(1, 40):
        kind = rng.choice(["ref", "long", "long", "short", "short", "short"])
        if kind == "ref":
            bank.add_reference(_entry(t))
            refs.append(t)
        else:
            bank.add(_entry(t), long_term=kind == "long")
            if kind == "long":
                preds.insert(0, t)
        if cap is not None:  # drop the oldest predicted frames; references stay
            preds = preds[: max(cap - len(refs), 0)]
        expected = preds + refs  # official order: predicted newest first, then refs
        for layer in range(LAYERS):
            assert _frames_in(bank, layer) == expected
        assert bank.is_reference == [False] * len(preds) + [True] * len(refs)
        assert int(bank.short_term[0].K[0, 0, 0]) == t  # the last frame
        long_term, short_term = bank.read()
        assert long_term is bank.long_term and short_term is bank.short_term


def test_memory_bank_rejects_bad_cap():
    with pytest.raises(ValueError, match="max_long_term"):
        MemoryBank(1, 1, max_long_term=0)


def test_local_mask_of_second_group():
    bank = MemoryBank(11, 2)
    mask = torch.tensor([[0, 1, 10, 11, 12, 13]])
    assert bank.local_mask(mask).tolist() == [[0, 0, 0, 1, 2, 0]]


def test_object_manager_noncontiguous_ids_and_late_objects():
    om = ObjectManager(max_obj_num=2)
    assert om.add([5, 1]) == [1, 5]
    assert om.add([5, 7]) == [7]  # 5 is known: slots never move
    assert om.ids == [1, 5, 7] and om.num_objects == 3 and om.num_groups == 2
    assert [om.slot(i) for i in (1, 5, 7)] == [1, 2, 3]
    assert [om.group_of(i) for i in (1, 5, 7)] == [(0, 1), (0, 2), (1, 1)]
    mask = np.array([[0, 1, 5], [7, 255, 9]], np.uint8)
    slots = om.to_slots(mask)
    assert slots.tolist() == [[0, 1, 2], [3, 0, 0]]  # void and unknown -> background
    assert om.to_ids(slots).tolist() == [[0, 1, 5], [7, 0, 0]]
    assert om.to_ids(torch.from_numpy(slots)).dtype == np.uint8
    with pytest.raises(KeyError, match="9"):
        om.slot(9)
    with pytest.raises(ValueError, match="255"):
        om.add([255])


def test_object_manager_roundtrip_random():
    rng = np.random.default_rng(0)
    for _ in range(20):
        ids = rng.choice(np.arange(1, 255), size=rng.integers(1, 30), replace=False)
        om = ObjectManager()
        for part in np.array_split(ids, 3):  # objects joining in three frames
            om.add(part)
        mask = rng.choice(np.concatenate([[0], ids]), size=(7, 9)).astype(np.uint8)
        slots = om.to_slots(mask)
        assert slots.max() <= len(ids)
        np.testing.assert_array_equal(om.to_ids(slots), mask)
