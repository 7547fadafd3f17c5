"""mvk train variants: seeded and resumable (a resumed run equals an uninterrupted one)."""

import json

import torch

from mvk_tutorial.attention.train_variants import VariantTrainConfig, run_variant_training
from mvk_tutorial.attention.variants import KINDS, VariantClassifier, VariantConfig, load_variant


def test_resume_equals_uninterrupted(tmp_path):
    base = dict(model="dat", preset="test", epochs=2, frame_stride=8, batch_size=32)
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    assert run_variant_training(VariantTrainConfig(**base, stop_after=1), a, log=lambda s: None) is None
    assert (tmp_path / "a.partial.pt").is_file() and not a.exists()
    logs = []
    run_variant_training(VariantTrainConfig(**base), a, log=logs.append)
    assert any("resuming" in s for s in logs)
    run_variant_training(VariantTrainConfig(**base), b, log=lambda s: None)
    sa, sb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    meta = json.loads(a.with_suffix(".json").read_text())
    assert meta["data"]["generator_version"] is not None and "seed" in meta["train_config"]
    model, _ = load_variant(a)
    assert isinstance(model, VariantClassifier) and not (tmp_path / "a.partial.pt").exists()


def test_classifiers_share_the_skeleton():
    sizes = {}
    for kind in KINDS:
        m = VariantClassifier(VariantConfig(kind=kind))
        assert m(torch.randn(2, 3, 48, 80)).shape == (2, 9)
        sizes[kind] = sum(p.numel() for p in m.parameters())
    assert max(sizes.values()) / min(sizes.values()) < 1.1  # "about the same size"
    keys = VariantClassifier(VariantConfig(kind="dat")).deformable_keys(torch.randn(1, 3, 48, 80))
    assert keys["pos"].shape == (1, 2, 6, 10, 2) and keys["attn"].shape == (1, 4, 240, 60)
    torch.testing.assert_close(keys["attn"].sum(-1), torch.ones(1, 4, 240))
