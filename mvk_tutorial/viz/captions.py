"""Caption word-frequency figure of ch09 (published ClipCap shares beside ours).

Book: ch09, section "Word frequencies of the captions".
"""

from __future__ import annotations

import numpy as np
from mvk_tutorial.mvk.stats import word_share


def plot_word_shares(captions, published: dict[str, float], ax=None):
    """Bars of the published and measured % of captions containing each word.

    ``captions``: an iterable of caption strings; ``published``: word -> percent.
    Returns the measured shares (a pandas Series, word -> fraction, most common
    first) so that the notebook can print them. Labels are rotated so that long
    words do not overlap.

    Book: ch09, section "Word frequencies of the captions".
    """
    import matplotlib.pyplot as plt


    share = word_share(captions)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.2))
    words = list(published)
    x = np.arange(len(words))
    ax.bar(x - 0.2, [published[w] for w in words], width=0.4,
           label="MVK, ClipCap (published)")
    ax.bar(x + 0.2, [100 * share.get(w, 0.0) for w in words], width=0.4,
           label="MVK-mini, automatic (measured, CPU)")
    ax.set_xticks(x, words, rotation=30, ha="right")
    ax.set_ylabel("% of captions with the word")
    ax.legend(fontsize=8)
    return share
