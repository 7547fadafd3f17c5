"""The FAISS search path against exact search by brute force, and its file handling."""

from __future__ import annotations

import json

import pytest
import torch

from mvk_tutorial.cli import main
from mvk_tutorial.retrieval.embed import run_sharded
from mvk_tutorial.retrieval.index import build_index, load_index
from mvk_tutorial.retrieval.search import top_k


def _emb(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g)


def _exact_top_k(x, q, k):
    s = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(x, dim=1).T
    v, i = s.topk(k, dim=1)
    return v, i


def test_flat_index_equals_exact_top_k():
    x, q = _emb(3000, 32), _emb(20, 32, seed=1)
    v, i = _exact_top_k(x, q, 10)
    scores, ids = build_index(x).search(q, 10)
    assert torch.equal(ids, i)  # random data: no ties among the top 10
    assert torch.allclose(scores, v, atol=1e-5)


def test_ivf_searching_every_list_is_exact_and_fewer_lists_keep_recall():
    x, q = _emb(4000, 32), _emb(50, 32, seed=1)
    _, i = _exact_top_k(x, q, 10)
    index = build_index(x, kind="ivf", nlist=32)
    _, ids = index.search(q, 10, nprobe=32)
    assert torch.equal(ids, i)
    _, few = index.search(q, 10, nprobe=8)
    recall = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(few, i)) / 500
    assert 0.5 < recall < 1.0 + 1e-9


def test_ivfpq_finds_most_neighbours():
    x, q = _emb(3000, 16), _emb(50, 16, seed=1)
    _, i = _exact_top_k(x, q, 10)
    _, ids = build_index(x, kind="ivfpq", nlist=4, pq_m=4).search(q, 10, nprobe=4)
    recall = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(ids, i)) / 500
    assert recall > 0.4


def test_save_load_round_trip_and_bad_files(tmp_path):
    x = _emb(200, 16)
    idx = build_index(x, [f"f{i}.jpg" for i in range(200)])
    path = idx.save(tmp_path / "frames.faiss")
    back = load_index(path)
    assert back.frame_paths[7] == "f7.jpg" and len(back) == 200
    assert torch.equal(back.search(x[:3], 1)[1].flatten(), torch.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.faiss", "frames.json"]
    (tmp_path / "bad.faiss").write_bytes(b"not an index")
    (tmp_path / "bad.json").write_text(json.dumps({"kind": "flat", "frame_paths": []}))
    with pytest.raises(ValueError, match="bad.faiss"):
        load_index(tmp_path / "bad.faiss")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_index(tmp_path / "none.faiss")
    with pytest.raises(ValueError, match=".faiss"):
        idx.save(tmp_path / "frames.bin")


def test_bad_embeddings_are_rejected_with_the_row():
    x = _emb(10, 4)
    x[3] = 0
    with pytest.raises(ValueError, match="row 3 is a zero vector"):
        build_index(x)
    with pytest.raises(ValueError, match="expected D=4"):
        build_index(_emb(10, 4)).search(_emb(2, 5), 3)
    with pytest.raises(ValueError, match="k: expected 1..10"):
        build_index(_emb(10, 4)).search(_emb(2, 4), 11)


def test_top_k_with_the_index_equals_top_k_without():
    class Bundle:  # a text encoder stand-in: a fixed direction
        def encode_text(self, texts):
            return torch.nn.functional.normalize(_emb(1, 16, seed=5), dim=1)

    x = torch.nn.functional.normalize(_emb(500, 16), dim=1)
    a = top_k(Bundle(), x, "q", 8)
    b = top_k(Bundle(), x, "q", 8, index=build_index(x))
    assert torch.equal(a[0], b[0]) and torch.allclose(a[1], b[1], atol=1e-6)


def test_cli_index_then_search(tmp_path, capsys):
    from mvk_tutorial.retrieval.clip import load_clip

    bundle = load_clip()
    texts = ["a sea turtle", "a reef shark", "a clownfish", "a scuba diver"]
    emb = bundle.encode_text(texts)  # text vectors stand in for frames here
    cache = tmp_path / "emb" / "image"
    run_sharded(
        cache, texts, lambda idx: [(idx, emb[idx])],
        {"kind": "image", "model": "clip_tiny_mvk", "pretrained": None, "meta": {}},
        shard_size=3,
    )
    assert main(["kis", "index", "--embeddings", str(tmp_path / "emb"),
                 "--out", str(tmp_path / "f.faiss")]) == 0
    capsys.readouterr()
    assert main(["kis", "search", "--index", str(tmp_path / "f.faiss"),
                 "--text", "a reef shark", "-k", "2"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("  a reef shark")
