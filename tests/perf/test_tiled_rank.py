"""The tiled rank kernel against a brute-force stable sort, with many exact ties.

Embeddings of small integers make every dot product exact in float32 and float64, so
ties are real ties whatever the order of accumulation, and the reference (a stable
descending argsort of scores computed independently in int64) is unambiguous.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mvk_tutorial.retrieval.kis import rank_of_targets
from mvk_tutorial.retrieval.tiled_rank import tiled_ranks


def brute_ranks(q: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> list[int]:
    scores = q.long() @ x.long().T  # exact integer scores (M, N)
    out = []
    for i in range(q.shape[0]):
        order = torch.argsort(-scores[i], stable=True)
        out.append(int((order == t[i]).nonzero()))
    return out


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 23),
    n=st.integers(1, 41),
    d=st.integers(1, 6),
    bq=st.integers(1, 9),
    bf=st.integers(1, 13),
    seed=st.integers(0, 10**6),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_tiled_ranks_equal_a_stable_sort(m, n, d, bq, bf, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    q = torch.randint(-2, 3, (m, d), generator=g)
    x = torch.randint(-2, 3, (n, d), generator=g)  # few values: many exact ties
    t = torch.randint(0, n, (m,), generator=g)
    got = tiled_ranks(q.to(dtype), x.to(dtype), t, block_q=bq, block_f=bf)
    assert got.tolist() == brute_ranks(q, x, t)


def test_duplicate_frames_and_targets_tie_by_collection_order():
    x = torch.tensor([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 3)
    q = torch.tensor([[1.0, 0.0]] * 5)
    t = torch.arange(5)  # each query's target is the k-th copy of the same frame
    assert tiled_ranks(q, x, t, block_q=2, block_f=3).tolist() == [0, 1, 2, 3, 4]


def test_rank_of_targets_defaults_match_the_reference_at_a_realistic_size():
    g = torch.Generator().manual_seed(0)
    q = torch.randint(-3, 4, (300, 16), generator=g)
    x = torch.randint(-3, 4, (2500, 16), generator=g)
    t = torch.randint(0, 2500, (300,), generator=g)
    got = rank_of_targets(q.float(), x.float(), t, similarity="dot")
    assert got.tolist() == brute_ranks(q, x, t)


@pytest.mark.parametrize("similarity", ["cosine", "cosine_official"])
def test_rank_of_targets_cosine_matches_a_float64_sort(similarity):
    g = torch.Generator().manual_seed(1)
    q = torch.randn(40, 8, generator=g, dtype=torch.float64)
    x = torch.randn(700, 8, generator=g, dtype=torch.float64)
    t = torch.randint(0, 700, (40,), generator=g)
    s = (q / q.norm(dim=1, keepdim=True)) @ (x / x.norm(dim=1, keepdim=True)).T
    ref = [int((torch.argsort(-s[i], stable=True) == t[i]).nonzero()) for i in range(40)]
    got = rank_of_targets(q, x, t, similarity=similarity, chunk_size=7, block_frames=64)
    assert got.tolist() == ref
