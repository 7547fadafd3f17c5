"""The VOS weights the package ships: each loads strictly, is small, names how it was
made, and its recorded J&F is what scoring it again gives.

The re-scoring uses the same unseen ``val`` video the sidecar measured (generator seed
0, never used in training) and the package's whole pipeline (``evaluate_model``: the
official DAVIS preprocessing, DeAOT/AOT inference, chapter 7's J&F). The sidecar's
number was written by ``mvk train ... --export``; a second run on another machine may
differ by float summation order only, hence the tolerance of 0.01 on a score in [0, 1].
"""

import json

import pytest
import torch

from mvk_tutorial.vos.shipped import SHIPPED, load_shipped, shipped_weights


@pytest.fixture(scope="module")
def book_davis():
    from mvk_tutorial.vos.train_data import mvk_mini_collection

    return mvk_mini_collection(0, "book") / "DAVIS"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_weights_and_sidecar(name):
    path = shipped_weights(name)
    assert path.stat().st_size < 10e6  # the project's limit for shipped weights
    side = json.loads(path.with_suffix(".json").read_text("utf-8"))
    assert side["model"] == name and side["file"] == path.name
    assert side["command"].startswith(f"mvk train {name.split('-')[0]} ")
    assert isinstance(side["seed"], int)
    # trained on another generator seed than the one it is scored on
    assert side["data"]["generator_seed"] != side["eval_data"]["generator_seed"]
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = load_shipped(name)  # strict: every key, every shape
    assert set(state) == set(model.state_dict())
    assert side["params"] == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_jf_is_reproduced(name, book_davis):
    from mvk_tutorial.vos.train_eval import evaluate_model

    torch.set_num_threads(1)
    side = json.loads(shipped_weights(name).with_suffix(".json").read_text("utf-8"))
    assert side["eval_data"]["generator_seed"] == 0  # the book's cached collection
    per_seq = side["eval"]["per_sequence"]
    assert len(per_seq) == side["eval"]["sequences"] == 16
    seq = sorted(per_seq)[0]  # one recorded video, scored again from scratch
    out = evaluate_model(load_shipped(name), book_davis, "val", sequences=[seq])
    assert out["per_sequence"][seq] == pytest.approx(per_seq[seq], abs=0.01)
