"""The ch10 exercise checks accept the reference and catch wrong answers."""

from __future__ import annotations

import pytest
import torch

from mvk_tutorial import checks
from mvk_tutorial.retrieval.kis import rank_of_targets


def good_ranking(query, frames):
    s = torch.nn.functional.normalize(frames, dim=1) @ (query / query.norm())
    return torch.sort(s, descending=True, stable=True).indices


def test_cosine_ranking_accepts_reference(capsys):
    checks.cosine_ranking(good_ranking)
    assert "PASSED cosine_ranking: 4/4 cases" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong",
    [
        lambda q, x: (
            torch.sort(x @ q, descending=True, stable=True).indices
        ),  # dot, not cosine
        lambda q, x: (
            torch.sort(torch.nn.functional.normalize(x, dim=1) @ q).indices
        ),  # ascending
        lambda q, x: (
            torch.sort(
                torch.nn.functional.normalize(x, dim=1) @ q, descending=True
            ).values
        ),
        lambda q, x: torch.flip(
            torch.sort(
                -(torch.nn.functional.normalize(x, dim=1) @ q),
                descending=True,
                stable=True,
            ).indices,
            [0],
        ),  # ties reversed
    ],
)
def test_cosine_ranking_catches_wrong(wrong):
    with pytest.raises(AssertionError, match="cosine_ranking: case"):
        checks.cosine_ranking(wrong)


def test_rank_without_sorting_accepts_package_and_formula(capsys):
    # the package: scores s as 1-d "embeddings" with the dot product (query = [1.0])
    checks.rank_without_sorting(
        lambda s, t: int(
            rank_of_targets(torch.ones(1, 1), s[:, None], [t], similarity="dot")[0]
        )
    )
    checks.rank_without_sorting(
        lambda s, t: int((s > s[t]).sum() + (s[:t] == s[t]).sum())
    )
    assert capsys.readouterr().out.count("PASSED rank_without_sorting: 6/6 cases") == 2


@pytest.mark.parametrize(
    "wrong",
    [
        lambda s, t: int((s > s[t]).sum()),  # ties ignored
        lambda s, t: int((s >= s[t]).sum()) - 1,  # every tie counted
        lambda s, t: int((s < s[t]).sum()),  # ascending
    ],
)
def test_rank_without_sorting_catches_wrong(wrong):
    with pytest.raises(AssertionError, match="rank_without_sorting: case"):
        checks.rank_without_sorting(wrong)


def test_unanswered_exercise_passes_through():
    def todo(*_):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.rank_without_sorting(todo)
