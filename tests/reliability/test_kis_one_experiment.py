"""One KIS experiment, one query-type vocabulary."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from mvk_tutorial.retrieval import collection, kis, kis_mvk, train_clip
from mvk_tutorial.retrieval.kis import QUERY_TYPES, canonical_query_type, kis_experiment

PKG = Path(__file__).resolve().parents[2] / "mvk_tutorial"


def test_one_vocabulary():
    assert QUERY_TYPES == ("automatic", "novice", "expert")
    assert collection.QUERY_TYPES is kis.QUERY_TYPES
    assert canonical_query_type("clipcap") == "automatic"
    with pytest.raises(ValueError, match="query type 'experts'"):
        canonical_query_type("experts")


@pytest.mark.parametrize("module", [collection, kis_mvk, train_clip])
def test_every_kis_runner_uses_kis_experiment(module):
    tree = ast.parse(Path(module.__file__).read_text())
    called = {
        n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert "kis_experiment" in called and "rank_of_targets" not in called


def test_kis_experiment_rows_against_brute_force():
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(20, 6, generator=g)
    paths = [f"s/0001_{i:05d}.jpg" for i in range(20)]
    q = {"clipcap": (torch.randn(4, 6, generator=g), torch.tensor([0, 5, 9, 19])),
         "expert": (frames[[3, 4]] + 0.01, torch.tensor([3, 4]))}
    rows = kis_experiment(q, frames, paths, video_index=torch.arange(20) // 5,
                          texts={"clipcap": list("abcd"), "expert": ["x", "y"]})
    assert [r["query_type"] for r in rows] == ["automatic"] * 4 + ["expert"] * 2
    fn = torch.nn.functional.normalize
    for kind, (emb, targets) in q.items():
        mine = [r for r in rows if r["query_type"] == canonical_query_type(kind)]
        for row, e, t in zip(mine, emb, targets.tolist()):
            s = fn(frames, dim=1) @ fn(e, dim=0)
            order = sorted(range(20), key=lambda j: -float(s[j]))  # stable: ties by index
            assert row["rank"] == order.index(t) and row["target"] == paths[t]
    assert rows[4]["rank"] == 0 and rows[4]["text"] == "x" and "video_rank" in rows[0]
