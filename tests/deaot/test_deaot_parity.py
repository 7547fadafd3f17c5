"""DeAOT-T against the official aot-benchmark engine.

The fixture (tests/fixtures/deaot/, made by tests/fixtures/make_official.py) holds the
inputs and the official engine's logits; the weights are not stored: both sides set
them with the same seeded rule (tests/fixtures/seeded_weights.py).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mvk_tutorial.vos.deaot import DeAOTEngine, build_deaot
from mvk_tutorial.vos.deaot.checkpoint import load_state_dict_checked

_spec = importlib.util.spec_from_file_location(
    "official_fixtures", Path(__file__).parents[1] / "fixtures" / "official.py"
)
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


@pytest.fixture(scope="module", params=["deaot_t", "deaot_t_gap2"])
def ref(request):
    # deaot_t: long-term memory = the reference frame; _gap2: frames join it every 2
    name = request.param
    meta = json.loads(fx.require(fx.DEAOT / f"{name}.json").read_text())
    with np.load(fx.require(fx.DEAOT / f"{name}.npz"), allow_pickle=False) as z:
        arrays = {k: torch.from_numpy(z[k]) for k in z.files}
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = arrays["frames"].float().div(255).permute(0, 3, 1, 2)  # (T, 3, H, W)
    arrays["x"] = ((x - mean) / std).unsqueeze(1)  # (T, 1, 3, H, W)
    return meta, arrays


def test_state_dict_keys_and_shapes_match_official(ref):
    meta, _ = ref
    own = build_deaot("deaot-t").state_dict()
    assert [[k, list(v.shape)] for k, v in own.items()] == meta["state_dict"]


def test_deaot_t_matches_official_logits(ref):
    meta, a = ref
    torch.set_num_threads(2)
    rule = fx.load_helper("seeded_weights")
    model = build_deaot("deaot-t").eval()
    load_state_dict_checked(
        model, rule.seeded_state_dict(model.state_dict(), meta["weight_seed"])
    )
    engine = DeAOTEngine(model, long_term_gap=meta["long_term_gap"])
    H, W = a["first_mask"].shape
    first = a["first_mask"].long().view(1, 1, H, W)
    with torch.no_grad():
        engine.add_reference(a["x"][0], first, meta["num_objects"])
        for t in range(1, a["x"].shape[0]):
            logits = engine.propagate(a["x"][t])
            expected = a["logits"][t - 1]  # (1, 4, H, W)
            assert logits.shape == expected.shape
            torch.testing.assert_close(logits, expected, atol=1e-4, rtol=0)
            engine.update_memory(a["memory_masks"][t - 1].long())


def test_seeded_rule_depends_on_name_only():
    rule = fx.load_helper("seeded_weights")
    like = torch.zeros(4, 3, 3, 3)
    a = rule.seeded_tensor("x.weight", like)
    assert torch.equal(a, rule.seeded_tensor("x.weight", like))
    assert not torch.equal(a, rule.seeded_tensor("y.weight", like))
