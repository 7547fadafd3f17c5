"""open_clip loading: checkpoint files, pretrained tags offline, QuickGELU."""

from __future__ import annotations

import time

import open_clip
import pytest
import torch

from mvk_tutorial.retrieval.clip import (
    TINY_CLIP,
    load_clip,
    register_tiny_clip,
    resolve_pretrained,
)


def _random_tiny_checkpoint(path):
    register_tiny_clip()
    torch.manual_seed(1)
    model = open_clip.create_model(TINY_CLIP)
    torch.save(model.state_dict(), path)
    return model.eval()


def test_local_checkpoint_loads(tmp_path):
    ref = _random_tiny_checkpoint(tmp_path / "tiny.pt")
    bundle = load_clip(TINY_CLIP, tmp_path / "tiny.pt")
    x = torch.randn(2, 3, 64, 112)
    torch.testing.assert_close(
        bundle.encode_image(x), ref.encode_image(x, normalize=True)
    )
    tokens = open_clip.get_tokenizer(TINY_CLIP)(["a turtle over sand"])
    torch.testing.assert_close(
        bundle.encode_text(["a turtle over sand"]),
        ref.encode_text(tokens, normalize=True),
    )
    assert bundle.image_size == (64, 112)


def test_quick_gelu_switch(tmp_path):
    _random_tiny_checkpoint(tmp_path / "tiny.pt")
    kinds = lambda m: {type(mod).__name__ for mod in m.modules()}
    assert "QuickGELU" in kinds(
        load_clip(TINY_CLIP, tmp_path / "tiny.pt", quick_gelu=True).model
    )
    assert "QuickGELU" not in kinds(load_clip(TINY_CLIP, tmp_path / "tiny.pt").model)


def test_uncached_tag_fails_fast_and_clearly(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(
        FileNotFoundError, match="not in the local cache.*Nothing is downloaded"
    ):
        load_clip("ViT-B-32-quickgelu", "openai", cache_dir=str(tmp_path))
    assert time.perf_counter() - t0 < 10  # no network attempt that hangs


def test_unknown_tag_and_missing_file(tmp_path):
    with pytest.raises(
        ValueError, match="not known for model 'ViT-B-32'.*laion2b_s34b_b79k"
    ):
        load_clip("ViT-B-32", "no_such_tag")
    with pytest.raises(FileNotFoundError, match="checkpoint file not found"):
        load_clip(TINY_CLIP, tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="unknown open_clip architecture"):
        load_clip("ViT-Nope")


def test_cached_tag_resolves_offline(tmp_path):
    # a file where open_clip's URL download would have put it
    (tmp_path / "ViT-B-32.pt").write_bytes(b"x")
    path, cfg = resolve_pretrained(
        "ViT-B-32-quickgelu", "openai", cache_dir=str(tmp_path)
    )
    assert path == str(tmp_path / "ViT-B-32.pt") and cfg["quick_gelu"] is True
    # a file in a Hugging Face cache layout
    repo = tmp_path / "hf" / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snap = repo / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "open_clip_model.safetensors").write_bytes(b"x")
    path, cfg = resolve_pretrained(
        "ViT-B-32", "laion2b_s34b_b79k", cache_dir=str(tmp_path / "hf")
    )
    assert path.endswith("open_clip_model.safetensors") and not cfg.get("quick_gelu")
