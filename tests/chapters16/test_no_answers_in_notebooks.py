"""No notebook of ch01, ch02, ch07, ch09 and ch10 imports, calls or prints the package
function that one of its exercises asks for (the checks import the references)."""

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[2] / "book"
FORBIDDEN = {
    "ch01_attention.ipynb": ["split_heads", "merge_heads", "causal_mask", "padding_mask",
                             ],
    "ch02_vit.ipynb": ["inspect", "Block", "rearrange"],
    "ch07_vos_task_data_metrics.ipynb": ["seg2bmap", "jaccard", "db_statistics",
                                         "decay_bins", "summarize"],
    "ch09_mvk_dataset.ipynb": ["word_share", "select_fixed_rate"],
    "ch10_known_item_search.ipynb": ["video_rank_of_targets", "torch.sort(",
                                     "scores[:t]", "(scores > scores"],
}


def _code_outside_solutions(nb: dict):
    for i, cell in enumerate(nb["cells"]):
        src = "".join(cell["source"])
        if cell["cell_type"] != "code" or "### BEGIN SOLUTION" in src:
            continue
        # the checks and the reader's own functions may be named
        src = re.sub(r"checks\.\w+|my_\w+|My\w+", "", src)
        yield i, src


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_exercise_answers_are_not_in_the_notebook(name):
    nb = json.loads((BOOK / name).read_text())
    for i, src in _code_outside_solutions(nb):
        for word in FORBIDDEN[name]:
            pattern = re.escape(word) if not word.isidentifier() else rf"\b{word}\b"
            assert not re.search(pattern, src), f"{name} cell {i} uses {word!r}"


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_chapter_has_goals_captions_summary_references(name):
    nb = json.loads((BOOK / name).read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "{admonition} Learning goals" in text
    assert "## Summary" in text and "## References" in text and "## Exercises" in text
    figures = re.findall(r"\{glue:figure\} (\S+)", text)
    assert len(figures) >= 2 and len(set(figures)) == len(figures)
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    for fig in figures:  # every captioned figure is glued by a code cell
        assert f'glue("{fig}"' in code, fig
    assert "plt.show()" not in code  # every figure is numbered and captioned
    assert "PLACEHOLDER" not in text and "_TEXT" not in text and "CONCLUSION" not in text
