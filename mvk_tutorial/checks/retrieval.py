"""Checks for the exercises of ch10 "Known-item search"."""

from __future__ import annotations

import torch

from mvk_tutorial.checks.core import case, check_function, seeded


def _ranking_reference(query: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    q = query / query.norm()
    x = frames / frames.norm(dim=1, keepdim=True)
    return torch.sort(x @ q, descending=True, stable=True).indices


def _ranking_cases():
    g = seeded(10)
    frames = torch.randn(12, 6, generator=g, dtype=torch.float64)
    dup = frames.clone()
    dup[9] = dup[2]  # an exact copy: equal scores, the lower index comes first
    scaled = frames * torch.rand(12, 1, generator=g, dtype=torch.float64) * 50
    return [
        case(
            "12 frames, 6-d", torch.randn(6, generator=g, dtype=torch.float64), frames
        ),
        case(
            "frames of very different lengths (cosine ignores length)",
            torch.randn(6, generator=g, dtype=torch.float64),
            scaled,
        ),
        case(
            "two identical frames (a tie)",
            torch.randn(6, generator=g, dtype=torch.float64),
            dup,
        ),
        case(
            "one frame",
            torch.randn(3, generator=g, dtype=torch.float64),
            torch.randn(1, 3, generator=g, dtype=torch.float64),
        ),
    ]


def cosine_ranking(candidate) -> None:
    """Check ``rank_frames(query (D,), frames (N, D)) -> (N,) frame indices, best first``.

    Book: ch10, section "Exercise 1: cosine similarity ranking".
    """
    check_function(
        "cosine_ranking",
        candidate,
        _ranking_reference,
        _ranking_cases(),
        hint="normalise the query and every frame to length 1, take dot products, and "
        "sort them in descending order with a stable sort (torch.sort(..., descending=True, "
        "stable=True)); return the indices, not the scores.",
    )


def _rank_reference(scores: torch.Tensor, target: int) -> int:
    order = sorted(range(len(scores)), key=lambda j: float(scores[j]), reverse=True)
    return order.index(int(target))


def _rank_cases():
    g = seeded(11)
    ties = torch.tensor([0.5, 0.9, 0.5, 0.1, 0.5, 0.7])
    return [
        case("distinct scores", torch.randn(20, generator=g), 7),
        case("the best frame is the target", torch.tensor([0.1, 0.3, 0.9, 0.2]), 2),
        case("ties before and after the target", ties, 2),
        case("a tie, the target comes first", ties, 0),
        case("the worst frame", torch.tensor([0.3, -0.9, 0.2]), 1),
        case("many frames", torch.randn(5000, generator=g), 4321),
    ]


def rank_without_sorting(candidate) -> None:
    """Check ``target_rank(scores (N,), target) -> int`` (0-based rank, no sort).

    Book: ch10, section "Exercise 2: the rank of a target without sorting".
    """
    if not callable(candidate):
        raise AssertionError(
            f"rank_without_sorting: expected a function, got {type(candidate)}"
        )
    check_function(
        "rank_without_sorting",
        lambda s, t: int(candidate(s, t)),
        _rank_reference,
        _rank_cases(),
        hint="count the frames with a strictly higher score, plus the frames with the same "
        "score and a smaller index (a stable sort puts those first).",
    )
