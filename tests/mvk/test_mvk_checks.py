"""The ch09 exercise checks accept the reference and catch wrong answers."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from mvk_tutorial.checks.mvk import fixed_rate, word_share
from mvk_tutorial.mvk.frames import select_fixed_rate
from mvk_tutorial.mvk.stats import word_share as reference_word_share


def test_word_share_check(capsys):
    word_share(reference_word_share)
    assert capsys.readouterr().out.strip() == "PASSED word_share: 4/4 cases"

    def counts_repeats(captions):  # counts a word twice when a caption repeats it
        words = [w for c in captions for w in re.findall(r"[a-z]+", c.lower())]
        return pd.Series(words).value_counts() / len(captions)

    with pytest.raises(AssertionError, match="word_share: case"):
        word_share(counts_repeats)

    def case_sensitive(captions):
        sets = [set(re.findall(r"[A-Za-z]+", c)) for c in captions]
        return pd.Series([w for s in sets for w in s]).value_counts() / len(captions)

    with pytest.raises(AssertionError, match="Hint"):
        word_share(case_sensitive)


def test_fixed_rate_check(capsys):
    fixed_rate(select_fixed_rate)
    assert "PASSED fixed_rate: 5/5 cases" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="fixed_rate"):
        fixed_rate(
            lambda n, fps, every: list(range(0, n, int(fps * every)))
        )  # truncates
