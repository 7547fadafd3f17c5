"""Checks for the exercises of ch09 "The Marine Video Kit dataset"."""

from __future__ import annotations

import pandas as pd

from mvk_tutorial.checks.core import case, check_function
from mvk_tutorial.mvk.frames import select_fixed_rate
from mvk_tutorial.mvk.stats import word_share as _word_share_reference

_CAPTIONS = [
    [
        "a coral reef with fish.",
        "a fish swimming in the ocean.",
        "a coral reef with fish.",
    ],
    [
        "A shark swimming in the ocean.",
        "the reef",
        "a scuba diver swimming in the ocean.",
    ],
    ["fish fish fish", "Fish!", "a fish, a reef and a turtle"],
    ["no-one here", "", "a  reef"],
]


def _as_dict(result) -> dict[str, float]:
    if isinstance(result, pd.Series):
        result = result.to_dict()
    if not isinstance(result, dict):
        raise AssertionError(
            f"expected a pandas Series or a dict, got {type(result).__name__}"
        )
    return {str(k): round(float(v), 6) for k, v in result.items()}


def word_share(candidate) -> None:
    """Check ``word_share(captions) -> Series``: share of captions containing each word.

    Book: ch09, section "Exercise 1: word frequencies".
    """
    check_function(
        "word_share",
        lambda caps: _as_dict(candidate(caps)),
        lambda caps: _as_dict(_word_share_reference(caps)),
        [case(f"{len(c)} captions: {c!r}", c) for c in _CAPTIONS],
        hint="lower-case each caption, split it into runs of letters (re.findall(r'[a-z]+')), "
        "count each word once per caption (a set), divide by the number of captions.",
    )


def fixed_rate(candidate) -> None:
    """Check ``fixed_rate(num_frames, fps, every_s) -> list[int]`` (one frame per period).

    Book: ch09 "The Marine Video Kit dataset" (exercise "Selected frames").
    """
    cases = [
        case("95 frames at 30 fps, every 1 s", 95, 30.0, 1.0),
        case("7 frames at 10 fps, every 1 s (only frame 0)", 7, 10.0, 1.0),
        case("61 frames at 25 fps, every 2.4 s", 61, 25.0, 2.4),
        # a fixed integer step, range(0, n, round(fps * every_s)), drifts away from
        # k * fps * every_s: by frame 509 at 29.97 fps, at once at 12.5 fps (five
        # cases in all: the notebook's committed output says 5/5)
        case("1800 frames at 29.97 fps, every 1 s (drift of a fixed step)", 1800, 29.97, 1.0),
        case("100 frames at 12.5 fps, every 1 s", 100, 12.5, 1.0),
    ]
    check_function(
        "fixed_rate",
        lambda n, fps, every: [int(i) for i in candidate(n, fps, every)],
        select_fixed_rate,
        cases,
        hint="frame k*every_s*fps rounded to the nearest integer, for k = 0, 1, ... while "
        "it is < num_frames; no duplicates, in increasing order. Do not step by a "
        "rounded period (range(0, n, round(fps * every_s))): the error adds up.",
    )
