"""Check for the video-level rank exercise of ch10.

``checks.video_rank(my_video_rank)``: given one query's scores of all frames, the
target frame and the video id of every frame, the 0-based rank of the target's video
when each video scores its best frame. The reference is the package's
``video_rank_of_targets`` (fed the scores as dot products with a one-hot frame table).

Book: ch10, section "Exercises".
"""

from __future__ import annotations

import torch

from mvk_tutorial.checks.robust import as_float, call, fail
from mvk_tutorial.retrieval.kis import video_rank_of_targets

_HINT = (
    "a video's score is the MAX of its frames' scores (scatter_reduce with 'amax', or "
    "a loop over the video ids); the rank of the target's video is the number of "
    "videos with a higher score, plus the videos with the same score and a smaller id."
)


def _reference(scores: torch.Tensor, target: int, videos: torch.Tensor) -> int:

    n = scores.shape[0]
    frames = torch.eye(n, dtype=torch.float64)  # frame j = e_j, so q . e_j = scores[j]
    return int(
        video_rank_of_targets(
            scores[None].double(), frames, [target], videos, similarity="dot"
        )[0]
    )


def _cases():
    g = torch.Generator().manual_seed(13)
    videos = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    s = torch.randn(10, generator=g, dtype=torch.float64)
    tied = s.clone()
    tied[9] = tied[:3].max()  # video 3's best frame ties with video 0's best frame
    many = torch.randint(0, 12, (200,), generator=g).sort().values
    return [
        ("10 frames in 4 videos; target in video 2", s, 6, videos),
        ("the target is not its video's best frame", s, int(s[:3].argmin()), videos),
        ("a tie between videos 0 and 3: the smaller id comes first", tied, 9, videos),
        ("a tie, target in video 0", tied, 1, videos),
        ("200 frames in 12 videos", torch.randn(200, generator=g, dtype=torch.float64), 57, many),
    ]


def video_rank(candidate) -> None:
    """Check ``candidate(scores, target, videos) -> int``.

    ``scores`` (N,) float, ``target`` a frame index, ``videos`` (N,) long video ids
    0..V-1. Returns the 0-based rank of ``videos[target]`` among the videos scored by
    their best frame, ties broken by video id.

    Book: ch10, section "Exercises".
    """
    name = "video_rank"
    cases = _cases()
    for i, (desc, scores, target, videos) in enumerate(cases, 1):
        where = f"case {i}/{len(cases)} ({desc})"
        want = _reference(scores, target, videos)
        got = call(name, candidate, _HINT, scores.clone(), target, videos.clone())
        value = as_float(name, got, f"{where}, rank", _HINT)
        if value != want:
            frame_rank = int((scores > scores[target]).sum())
            extra = (
                " (that is the target FRAME's rank: rank videos by their best frame)"
                if value == frame_rank and frame_rank != want
                else ""
            )
            raise fail(name, f"{where}: got {got!r}, expected {want}{extra}", _HINT)
    print(f"PASSED {name}: {len(cases)}/{len(cases)} cases")
