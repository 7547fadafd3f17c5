"""DeAOT-T against the official aot-benchmark engine (fixture made by running it)."""

from pathlib import Path

import pytest
import torch

from mvk_tutorial.vos.deaot import DeAOTEngine, build_deaot
from mvk_tutorial.vos.deaot.checkpoint import load_state_dict_checked

FIXTURE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "fixtures"
    / "deaot_t_official_reference.pt"
)


@pytest.fixture(scope="module")
def ref():
    if not FIXTURE.exists():
        pytest.skip(f"official fixture not found at {FIXTURE}")
    return torch.load(FIXTURE, map_location="cpu", weights_only=False)


def test_state_dict_keys_and_shapes_match_official(ref):
    own = build_deaot("deaot-t").state_dict()
    official = ref["state_dict"]
    assert list(own) == list(official)  # same names, same registration order
    for k, v in official.items():
        assert own[k].shape == v.shape, k


def test_deaot_t_matches_official_logits(ref):
    torch.set_num_threads(2)
    model = build_deaot("deaot-t")
    load_state_dict_checked(model, ref["state_dict"])
    engine = DeAOTEngine(model, long_term_gap=ref["long_term_gap"])
    frames = ref["frames"]  # (T, 1, 3, H, W), normalised
    engine.add_reference(frames[0], ref["first_mask"], ref["num_objects"])
    for t in range(1, frames.shape[0]):
        logits = engine.propagate(frames[t])
        expected = ref["logits"][t - 1]  # (1, 4, H, W)
        assert logits.shape == expected.shape
        torch.testing.assert_close(logits, expected, atol=1e-4, rtol=0)
        engine.update_memory(ref["memory_masks"][t - 1])
