"""Sharded, resumable embedding extraction (mvk kis embed) on a tiny random CLIP."""

from __future__ import annotations

import cv2
import numpy as np
import open_clip
import pytest
import torch

from mvk_tutorial.retrieval.clip import TINY_CLIP, ClipBundle, register_tiny_clip
from mvk_tutorial.retrieval.embed import (
    decode_image,
    embed_collection,
    load_cached,
    run_sharded,
    shard_bounds,
    shards_of_rank,
)


@pytest.fixture(scope="module")
def bundle():
    register_tiny_clip()
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_CLIP)
    model.eval()
    return ClipBundle(
        model, preprocess, open_clip.get_tokenizer(TINY_CLIP), TINY_CLIP, None
    )


@pytest.fixture()
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(11):
        p = tmp_path / "frames" / f"{i:04d}.jpg"
        p.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(p), rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
        paths.append(str(p))
    return paths


def test_shard_bounds_and_ranks():
    assert shard_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert shards_of_rank(5, 0, 2) == [0, 2, 4] and shards_of_rank(5, 1, 2) == [1, 3]


def test_embeddings_match_direct_encoding(bundle, images, tmp_path):
    texts = ["a coral reef with fish.", "a turtle", "two sharks on the left"]
    embed_collection(
        bundle,
        tmp_path / "out",
        images,
        texts,
        batch_size=4,
        num_workers=0,
        shard_size=3,
    )
    img, manifest = load_cached(tmp_path / "out" / "image")
    assert manifest["items"] == images and img.shape == (11, 128)
    direct = bundle.encode_image(
        torch.stack([bundle.preprocess(decode_image(p)) for p in images])
    )
    torch.testing.assert_close(img, direct, atol=1e-5, rtol=1e-5)
    txt, _ = load_cached(tmp_path / "out" / "text")
    torch.testing.assert_close(txt, bundle.encode_text(texts), atol=1e-5, rtol=1e-5)


def test_dataloader_workers_give_same_result(bundle, images, tmp_path):
    embed_collection(
        bundle, tmp_path / "a", images, batch_size=4, num_workers=0, shard_size=5
    )
    embed_collection(
        bundle, tmp_path / "b", images, batch_size=3, num_workers=2, shard_size=5
    )
    a, _ = load_cached(tmp_path / "a" / "image")
    b, _ = load_cached(tmp_path / "b" / "image")
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def _fake_encoder(calls, fail_after=None):
    def encode(indices):
        for s in range(0, len(indices), 2):
            if fail_after is not None and len(calls) >= fail_after:
                raise KeyboardInterrupt
            idx = indices[s : s + 2]
            calls.extend(idx)
            yield idx, torch.tensor([[float(i), 1.0] for i in idx])

    return encode


def test_interrupted_run_resumes_without_recomputing(tmp_path):
    items = [f"item{i}" for i in range(10)]
    calls: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        run_sharded(
            tmp_path, items, _fake_encoder(calls, fail_after=7), {"m": 1}, shard_size=3
        )
    assert sorted(p.name for p in tmp_path.glob("shard_*.pt")) == [
        "shard_00000.pt",
        "shard_00001.pt",
    ]
    assert not list(tmp_path.glob(".*tmp*"))  # no half-written files left
    with pytest.raises(FileNotFoundError, match="2 of 4 shards missing"):
        load_cached(tmp_path)
    calls2: list[int] = []
    assert (
        run_sharded(tmp_path, items, _fake_encoder(calls2), {"m": 1}, shard_size=3) == 2
    )
    assert calls2 == [6, 7, 8, 9]  # only the unfinished shards
    emb, _ = load_cached(tmp_path)
    assert emb[:, 0].tolist() == list(range(10))


def test_changed_inputs_refuse_the_cache(tmp_path):
    run_sharded(tmp_path, ["a", "b"], _fake_encoder([]), {"model": "x"}, shard_size=2)
    with pytest.raises(ValueError, match="different model"):
        run_sharded(
            tmp_path, ["a", "b"], _fake_encoder([]), {"model": "y"}, shard_size=2
        )


def test_torchrun_sharding_world_size_2(tmp_path, monkeypatch):
    items = [f"item{i}" for i in range(9)]
    calls = {0: [], 1: []}
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        run_sharded(tmp_path, items, _fake_encoder(calls[rank]), {"m": 1}, shard_size=2)
        if rank == 0:
            with pytest.raises(FileNotFoundError, match="2 of 5 shards missing"):
                load_cached(tmp_path)
    assert calls[0] == [0, 1, 4, 5, 8] and calls[1] == [2, 3, 6, 7]
    emb, _ = load_cached(tmp_path)
    assert emb[:, 0].tolist() == list(range(9))


def test_bad_rank_env(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="RANK=2"):
        run_sharded(tmp_path, ["a"], _fake_encoder([]), {}, shard_size=1)


def test_unreadable_image_named(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="broken.jpg: cannot read"):
        decode_image(bad)
