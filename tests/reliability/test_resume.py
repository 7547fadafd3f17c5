"""Resumed training equals uninterrupted training, with the shipped (dropout) config."""

from __future__ import annotations

import pytest
import torch

from mvk_tutorial.attention import train_vit
from mvk_tutorial.attention.train_vit import TrainConfig, fit
from mvk_tutorial.attention.vit import VIT_PRESETS, VisionTransformer

MEAN, STD = torch.full((3,), 0.5), torch.full((3,), 0.25)


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared CPU: more threads only wait for each other
    yield
    torch.set_num_threads(old)


def _problem():
    cfg = VIT_PRESETS["vit_tiny_mvk"]
    assert cfg.drop_rate > 0, "the shipped config must exercise dropout"
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 3, *cfg.img_size, generator=g)
    y = torch.randint(0, cfg.num_classes, (12,), generator=g)
    return x, y, cfg


def test_resume_with_dropout_equals_uninterrupted(tmp_path, interrupt_on_call):
    x, y, vcfg = _problem()
    tcfg = TrainConfig(epochs=2, batch_size=6, warmup_epochs=1, seed=0, threads=1)
    quiet = dict(log=lambda *_: None, data_id={"root": "A"})
    torch.manual_seed(0)
    ref = VisionTransformer(vcfg)
    fit(ref, x, y, tcfg, MEAN, STD, partial=tmp_path / "ref.partial.pt", **quiet)

    torch.manual_seed(0)
    model = VisionTransformer(vcfg)
    partial = tmp_path / "run.partial.pt"
    with interrupt_on_call(train_vit, "augment", 3):  # 2 steps per epoch
        fit(model, x, y, tcfg, MEAN, STD, partial=partial, **quiet)
    torch.manual_seed(999)  # another process: global RNG elsewhere; must be restored
    import random

    import numpy as np

    random.seed(5)
    np.random.seed(5)
    resumed = VisionTransformer(vcfg)
    fit(resumed, x, y, tcfg, MEAN, STD, partial=partial, **quiet)
    for (n, a), (_, b) in zip(ref.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=n)


def test_partial_of_other_data_is_not_resumed(tmp_path):
    x, y, vcfg = _problem()
    tcfg = TrainConfig(epochs=1, batch_size=12, warmup_epochs=1, seed=0, threads=1)
    partial = tmp_path / "p.partial.pt"
    fit(VisionTransformer(vcfg), x, y, tcfg, MEAN, STD, partial=partial,
        log=lambda *_: None, data_id={"root": "A"})
    said = []
    hist = fit(VisionTransformer(vcfg), x, y, tcfg, MEAN, STD, partial=partial,
               log=said.append, data_id={"root": "B"})
    assert any("other data" in s for s in said) and len(hist) == 1


def test_corrupt_partial_names_the_file(tmp_path):
    x, y, vcfg = _problem()
    partial = tmp_path / "p.partial.pt"
    partial.write_bytes(b"PK\x03\x04 not really")
    tcfg = TrainConfig(epochs=1, batch_size=12, seed=0, threads=1)
    with pytest.raises(RuntimeError, match=r"p\.partial\.pt: partial checkpoint is corrupt"):
        fit(VisionTransformer(vcfg), x, y, tcfg, MEAN, STD, partial=partial,
            log=lambda *_: None)


def test_run_training_passes_the_data_root_to_resume(monkeypatch, tmp_path):
    seen = {}

    def fake_fit(*a, data_id=None, **k):
        seen["data_id"] = data_id
        raise KeyboardInterrupt

    monkeypatch.setattr(train_vit, "fit", fake_fit)
    monkeypatch.setattr(train_vit, "prepare_data", lambda root, size: _fake_data())
    monkeypatch.setattr(train_vit, "load_manifest", lambda root: {"generator_version": 6})
    with pytest.raises(KeyboardInterrupt):
        train_vit.run_training(TrainConfig(threads=1), tmp_path / "o.pt",
                               data_root=tmp_path)
    assert seen["data_id"]["root"] == str(tmp_path.resolve())
    assert seen["data_id"]["generator_version"] == 6


def _fake_data():
    import numpy as np
    import pandas as pd

    from mvk_tutorial.mvk.labels import CLASSES

    n = 4
    return {
        "df": pd.DataFrame({"frame_index": np.arange(n), "seq": ["a", "a", "b", "b"]}),
        "images": torch.zeros(n, 3, 48, 80, dtype=torch.uint8),
        "labels": torch.zeros(n, dtype=torch.long),
        "train_idx": np.array([0, 1]),
        "held_idx": np.array([2, 3]),
        "mean": MEAN,
        "std": STD,
        "classes": list(CLASSES),
    }
