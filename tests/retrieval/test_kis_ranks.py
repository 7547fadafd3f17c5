"""rank_of_targets and video ranks against brute-force stable sorts."""

from __future__ import annotations

import contextlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mvk_tutorial.retrieval.kis import (
    found_within,
    rank_of_targets,
    rank_summary,
    sample_targets,
    video_rank_of_targets,
)


def _stable_sort_rank(scores: list[float], target: int) -> int:
    """What KIS.py does: Python's stable sort, descending, then find the target."""
    order = sorted(range(len(scores)), key=lambda j: scores[j], reverse=True)
    return order.index(target)


def test_cosine_ranks_match_full_sort_float64():
    g = torch.Generator().manual_seed(0)
    Q = torch.randn(37, 16, generator=g, dtype=torch.float64)
    X = torch.randn(211, 16, generator=g, dtype=torch.float64)
    t = torch.randint(0, 211, (37,), generator=g)
    Qn = Q / Q.norm(dim=1, keepdim=True)
    Xn = X / X.norm(dim=1, keepdim=True)
    expected = [
        _stable_sort_rank((Qn[i] * Xn).sum(1).tolist(), int(t[i])) for i in range(37)
    ]
    for chunk in (None, 1, 5, 37, 100):
        got = rank_of_targets(Q, X, t, chunk_size=chunk)
        assert got.dtype == torch.long
        assert got.tolist() == expected


def _integer_ties(seed: int):
    """50 queries, 300 frames of small integer vectors: with "dot" the products are
    exact whichever library computes them, and many scores are exactly equal.
    Returns Q, X, targets and the stable-sort ranks."""
    g = torch.Generator().manual_seed(seed)
    Q = torch.randint(-1, 2, (50, 4), generator=g).float()
    X = torch.randint(-1, 2, (300, 4), generator=g).float()
    t = torch.randint(0, 300, (50,), generator=g)
    S = Q @ X.T
    expected = [_stable_sort_rank(S[i].tolist(), int(t[i])) for i in range(50)]
    return Q, X, t, expected


def test_ties_broken_by_collection_order():
    Q, X, t, expected = _integer_ties(1)
    assert rank_of_targets(Q, X, t, similarity="dot").tolist() == expected
    assert rank_of_targets(Q, X, t, similarity="dot", chunk_size=7).tolist() == expected


@pytest.mark.parametrize("block_q,block_f", [(7, 64), (16, 37), (50, 300), (3, 1)])
def test_ties_across_tiles_and_the_padded_last_tile(block_q, block_f):
    # ties everywhere and targets in every tile; oneDNN multiplies on a CPU (no
    # autograd), with and without inference mode
    Q, X, t, expected = _integer_ties(6)
    for mode in (contextlib.nullcontext(), torch.inference_mode()):
        with mode:
            got = rank_of_targets(
                Q, X, t, similarity="dot", chunk_size=block_q, block_frames=block_f
            )
        assert got.tolist() == expected


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    m=st.integers(1, 6),
    seed=st.integers(0, 10_000),
    chunk=st.integers(1, 8),
)
def test_ranks_property_equal_to_stable_sort(n, m, seed, chunk):
    g = torch.Generator().manual_seed(seed)
    Q = torch.randint(-2, 3, (m, 3), generator=g).double()
    X = torch.randint(-2, 3, (n, 3), generator=g).double()
    t = torch.randint(0, n, (m,), generator=g)
    S = Q @ X.T
    expected = [_stable_sort_rank(S[i].tolist(), int(t[i])) for i in range(m)]
    assert (
        rank_of_targets(Q, X, t, similarity="dot", chunk_size=chunk).tolist()
        == expected
    )


def test_memory_bound_chunks_agree():
    g = torch.Generator().manual_seed(2)
    Q, X = torch.randn(64, 8, generator=g), torch.randn(500, 8, generator=g)
    t = torch.randint(0, 500, (64,), generator=g)
    full = rank_of_targets(Q, X, t)
    tiny = rank_of_targets(Q, X, t, max_chunk_bytes=500 * 4 * 3)  # 3 rows at a time
    assert torch.equal(full, tiny)


def test_target_score_read_from_the_same_block():
    # float32 embeddings: an identical copy of the target placed earlier must tie with
    # it exactly and count (lower index), whatever the rounding of the matmul.
    g = torch.Generator().manual_seed(3)
    X = torch.randn(1000, 64, generator=g)
    X[10] = X[900]
    Q = X[900:901] + 0.01 * torch.randn(1, 64, generator=g)
    S = (
        torch.nn.functional.normalize(Q, dim=1)
        @ torch.nn.functional.normalize(X, dim=1).T
    )
    r = int(rank_of_targets(Q, X, torch.tensor([900]))[0])
    assert r == int((S[0] > S[0, 900]).sum()) + 1  # the copy at index 10 comes first
    assert int(rank_of_targets(Q, X, torch.tensor([10]))[0]) == r - 1


def _video_rank_brute(S_row, video, target_video):
    num_v = max(video) + 1
    best = [float("-inf")] * num_v
    for s, v in zip(S_row, video):
        best[v] = max(best[v], s)
    return _stable_sort_rank(best, target_video)


def test_video_ranks_match_brute_force():
    g = torch.Generator().manual_seed(4)
    Q = torch.randint(-1, 2, (20, 4), generator=g).double()
    X = torch.randint(-1, 2, (120, 4), generator=g).double()
    video = torch.randint(0, 15, (120,), generator=g)
    t = torch.randint(0, 120, (20,), generator=g)
    S = Q @ X.T
    expected = [
        _video_rank_brute(S[i].tolist(), video.tolist(), int(video[t[i]]))
        for i in range(20)
    ]
    got = video_rank_of_targets(Q, X, t, video, similarity="dot", chunk_size=6)
    assert got.tolist() == expected
    assert (got <= rank_of_targets(Q, X, t, similarity="dot")).all()


@pytest.mark.parametrize(
    "q_shape,x_shape,t,match",
    [
        ((3, 8), (10, 16), [0, 1, 2], "dimensions differ"),
        (
            (3, 8),
            (10, 8),
            [0, 1, 10],
            r"target_index\[2\] = 10.*query 2 is not in the collection",
        ),
        ((3, 8), (10, 8), [0, -1, 2], r"target_index\[1\]"),
        ((3, 8), (10, 8), [0, 1], "one per query"),
        ((8,), (10, 8), [0], "2-D"),
    ],
)
def test_bad_input_errors(q_shape, x_shape, t, match):
    with pytest.raises(ValueError, match=match):
        rank_of_targets(torch.randn(*q_shape), torch.randn(*x_shape), torch.tensor(t))


def test_nan_embedding_named():
    X = torch.randn(10, 4)
    X[7, 2] = float("nan")
    with pytest.raises(ValueError, match="frame_emb: row 7"):
        rank_of_targets(torch.randn(2, 4), X, torch.tensor([0, 1]))


def test_found_within_and_summary():
    ranks = torch.tensor([0, 5, 99, 100, 2000])
    assert found_within(ranks, [1, 100, 2001]) == {1: 0.2, 100: 0.6, 2001: 1.0}
    s = rank_summary(ranks)
    assert s["median"] == 99 and s["max"] == 2000 and s["mean"] == pytest.approx(440.8)


def test_sample_targets_distinct_and_seeded():
    a, b = sample_targets(50, 20, seed=3), sample_targets(50, 20, seed=3)
    assert torch.equal(a, b) and len(set(a.tolist())) == 20
    with pytest.raises(ValueError, match="num_targets"):
        sample_targets(5, 6)


@pytest.mark.cuda
def test_gpu_ranks_equal_cpu_ranks_float64():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    g = torch.Generator().manual_seed(5)
    Q = torch.randint(-1, 2, (300, 8), generator=g).double()
    X = torch.randint(-1, 2, (5000, 8), generator=g).double()
    t = torch.randint(0, 5000, (300,), generator=g)
    cpu = rank_of_targets(Q, X, t, similarity="dot")
    gpu = rank_of_targets(Q.cuda(), X.cuda(), t, similarity="dot", chunk_size=64)
    assert gpu.device.type == "cuda"
    assert torch.equal(gpu.cpu(), cpu)
