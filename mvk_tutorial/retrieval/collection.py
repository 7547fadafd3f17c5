"""A KIS collection on disk: MVK selected frames, their videos, and text queries.

Frames are the MVK selected frames ``information/selected_frames/<site>/NNNN_KKKKK.jpg``
(sorted by path: that order breaks ties); a frame's video is ``<site>/NNNN``. Queries
are texts with a query type and a target frame: on MVK-mini the three generated
captions of every selected frame (``information/captions.csv``), elsewhere a CSV with
columns ``frame_path, query_type, text``.

Book: ch10, section "The task".
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch

from mvk_tutorial.retrieval.embed import load_cached
from mvk_tutorial.retrieval.kis import (
    QUERY_TYPES,
    canonical_query_type,
    kis_experiment,
    sample_targets,
)

SELECTED = Path("information") / "selected_frames"
CAPTIONS = Path("information") / "captions.csv"


def list_selected_frames(root: str | Path) -> list[str]:
    """Sorted paths of all selected frames of an MVK (or MVK-mini) root."""
    folder = Path(root) / SELECTED
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: expected the MVK selected-frames folder")
    paths = sorted(str(p) for p in folder.glob("*/*.jpg"))
    if not paths:
        raise ValueError(f"{folder}: no <site>/*.jpg frames found")
    return paths


def video_key(frame_path: str) -> str:
    """``<site>/NNNN`` of ``.../<site>/NNNN_KKKKK.jpg``."""
    p = Path(frame_path)
    return f"{p.parent.name}/{p.stem.rsplit('_', 1)[0]}"


def video_ids(frame_paths: list[str]) -> torch.Tensor:
    """(N,) video id of each frame, numbered in order of first appearance."""
    ids: dict[str, int] = {}
    return torch.tensor([ids.setdefault(video_key(p), len(ids)) for p in frame_paths])


def read_queries(path: str | Path) -> list[dict]:
    """Rows ``{frame_path, query_type, text}`` of a query CSV (comma-separated, header).

    MVK-mini's ``captions.csv`` (columns ``frame_path, automatic, novice, expert``) is
    read as three queries per frame. Relative frame paths are taken from the root.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: query CSV not found")
    root = path.parents[1] if path.name == CAPTIONS.name else path.parent
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or [])
        wide = {"frame_path", *QUERY_TYPES} <= cols
        if not wide and not {"frame_path", "query_type", "text"} <= cols:
            raise ValueError(
                f"{path}: expected columns frame_path,query_type,text (or frame_path,"
                f"automatic,novice,expert), got {','.join(sorted(cols))}"
            )
        rows = []
        seen: dict = {}
        for row in reader:
            frame = row["frame_path"]
            key = (frame, row.get("query_type", "*"))
            if key in seen:
                raise ValueError(
                    f"{path}, line {reader.line_num}: duplicate query for frame "
                    f"{frame!r} (type {key[1]!r}, first on line {seen[key]}); expected "
                    "one query per frame and type"
                )
            seen[key] = reader.line_num
            frame = frame if Path(frame).is_absolute() else str(root / frame)
            if wide:
                rows += [
                    {"frame_path": frame, "query_type": q, "text": row[q]}
                    for q in QUERY_TYPES
                ]
            elif not row["text"]:
                raise ValueError(f"{path}, line {reader.line_num}: empty query text")
            else:
                try:
                    kind = canonical_query_type(row["query_type"])
                except ValueError as exc:
                    raise ValueError(f"{path}, line {reader.line_num}: {exc}") from None
                rows.append({"frame_path": frame, "query_type": kind, "text": row["text"]})
    if not rows:
        raise ValueError(f"{path}: no queries (only a header row)")
    return rows


@dataclass
class KisCache:
    """Embeddings of a collection (from ``mvk kis embed``) with their queries."""

    frame_paths: list[str]
    frame_emb: torch.Tensor  # (N, D)
    query_text: list[str]
    query_type: list[str]
    query_target: list[str]  # target frame path of each query
    query_emb: torch.Tensor  # (M, D)

    @classmethod
    def load(cls, out_dir: str | Path) -> KisCache:
        frame_emb, fm = load_cached(Path(out_dir) / "image")
        query_emb, tm = load_cached(Path(out_dir) / "text")
        meta = tm["meta"]
        return cls(
            fm["items"],
            frame_emb,
            tm["items"],
            meta["query_type"],
            meta["frame_path"],
            query_emb,
        )


def run_kis(
    cache: KisCache,
    num_targets: int = 100,
    seed: int = 0,
    query_types: tuple[str, ...] = QUERY_TYPES,
    device: str | None = None,
) -> list[dict]:
    """Sample ``num_targets`` target frames and rank them with each query type.

    Returns rows ``{query_type, target, rank, video_rank, text}``
    (:func:`~mvk_tutorial.retrieval.kis.kis_experiment`). Book: ch10.
    """
    index = {p: i for i, p in enumerate(cache.frame_paths)}
    by_key = {
        (canonical_query_type(q), t): j
        for j, (q, t) in enumerate(zip(cache.query_type, cache.query_target))
    }
    for t in cache.query_target:
        if t not in index:
            raise ValueError(f"query target {t!r} is not a frame of the collection")
    with_queries = sorted({index[t] for t in cache.query_target})
    pick = sample_targets(len(with_queries), min(num_targets, len(with_queries)), seed)
    targets = [with_queries[i] for i in pick.tolist()]
    queries, texts = {}, {}
    for q in query_types:
        js = [by_key.get((canonical_query_type(q), cache.frame_paths[t])) for t in targets]
        if None in js:
            raise ValueError(
                f"query type {q!r} has no query for frame "
                f"{cache.frame_paths[targets[js.index(None)]]!r}"
            )
        queries[q] = (cache.query_emb[js], torch.tensor(targets))
        texts[q] = [cache.query_text[j] for j in js]
    return kis_experiment(
        queries,
        cache.frame_emb,
        cache.frame_paths,
        video_index=video_ids(cache.frame_paths),
        texts=texts,
        device=device,
    )
