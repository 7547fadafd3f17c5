"""Reader for the CSV files of the official KIS_MVK release, and its three experiments.

Official code: github.com/quangtrungtruong/KIS_MVK (``KIS.py``, MIT). Layout of ``data/``:

- ``extracted_low_res_images_v2/<folder>/*.csv``: the whole frame collection, one row per
  frame: ``image;caption;clipcap_clip;image_clip`` (the ClipCap caption, the CLIP text
  vector of that caption, the CLIP image vector; vectors are ``|``-separated).
- ``manual_vs_ClipCap/100_samples.csv``: ``image;image_clip;clipcap;clipcap_clip;novice;
  novice_clip`` for the 100 targets (ClipCap and novice queries).
- ``manual_vs_ClipCap/expertQueriesCLIPfeatures.csv``: ``image;expert;expert_clip``.

Fields are ``;``-separated with one header row. A target is matched on the last three
components of its image path, as ``KIS.py`` does (``str(Path(img).parts[-3:])``).
``KIS.py`` computes cosine similarity in float64 as ``dot(x, q) / (norm(x) * norm(q))``
and sorts with Python's stable ``sorted``; :func:`run_kis_mvk` keeps float64 and that
formula (``similarity="cosine_official"``), so ranks agree up to the summation order of
the dot product. One difference: ``KIS.py`` visits the folders in ``os.listdir`` order
(arbitrary); we sort them by default (``folder_order="listdir"`` copies KIS.py), which
only matters for frames whose scores tie exactly.

Book: ch10, section "The official KIS_MVK protocol".
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mvk_tutorial.retrieval.kis import kis_experiment

COLLECTION_DIR = "extracted_low_res_images_v2"
MANUAL_DIR = "manual_vs_ClipCap"
SAMPLES_CSV = "100_samples.csv"
EXPERT_CSV = "expertQueriesCLIPfeatures.csv"
QUERY_TYPES = ("clipcap", "novice", "expert")  # the official files' names for them


@dataclass
class KisMvkData:
    """The frame collection and the three query sets of a KIS_MVK ``data/`` folder."""

    frame_paths: list[str]  # image path of each frame, in collection order
    frame_emb: torch.Tensor  # (N, D) float64 CLIP image vectors
    captions: list[str]  # ClipCap caption of each frame
    queries: dict[
        str, tuple[list[str], list[str], torch.Tensor]
    ]  # type -> (image, text, (M, D))


def frame_id(image_path: str) -> str:
    """The key KIS.py matches targets on: the last three path components."""
    return str(Path(image_path).parts[-3:])


def _vector(field: str, where: str, column: str) -> np.ndarray:
    try:
        v = np.array([float(x) for x in field.split("|")], dtype=np.float64)
    except ValueError:
        raise ValueError(
            f"{where}: column {column!r} is not a '|'-separated list of numbers: "
            f"{field[:40]!r}..."
        ) from None
    if v.size and not np.any(v):  # cosine similarity would be 0 / 0
        raise ValueError(
            f"{where}: column {column!r} is a zero vector (cosine similarity is "
            "undefined; expected a non-zero embedding)"
        )
    return v


def _read_rows(path: Path, columns: tuple[str, ...]):
    """Yield (line number, dict) for each data row, checking the number of fields."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: KIS_MVK file not found")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file (expected a header row)")
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            if not row:
                continue
            if len(row) != len(columns):
                raise ValueError(
                    f"{where}: expected {len(columns)} ';'-separated fields "
                    f"({';'.join(columns)}), got {len(row)}"
                )
            yield where, dict(zip(columns, row))


def _stack(
    vectors: list[np.ndarray], wheres: list[str], dim: int | None
) -> torch.Tensor:
    for v, where in zip(vectors, wheres):
        dim = dim if dim is not None else v.shape[0]
        if v.shape[0] != dim:
            raise ValueError(f"{where}: vector of length {v.shape[0]}, expected {dim}")
    return torch.from_numpy(np.stack(vectors)) if vectors else torch.empty(0, dim or 0)


def read_collection(
    data_dir: str | Path, folder_order: str = "sorted"
) -> tuple[list[str], list[str], torch.Tensor]:
    """Read ``extracted_low_res_images_v2/*/*.csv``: (frame paths, captions, (N, D))."""
    root = Path(data_dir) / COLLECTION_DIR
    if not root.is_dir():
        raise NotADirectoryError(
            f"{root}: expected the KIS_MVK frame collection folder"
        )
    paths, captions, vecs, wheres = [], [], [], []
    columns = ("image", "caption", "clipcap_clip", "image_clip")
    if folder_order not in ("sorted", "listdir"):
        raise ValueError(
            f"folder_order: expected 'sorted' or 'listdir', got {folder_order!r}"
        )
    folders = [root / name for name in os.listdir(root)]  # KIS.py's (arbitrary) order
    if folder_order == "sorted":
        folders.sort()
    for folder in (f for f in folders if f.is_dir()):
        for csv_path in sorted(folder.glob("*.csv")):
            for where, row in _read_rows(csv_path, columns):
                paths.append(row["image"])
                captions.append(row["caption"])
                vecs.append(_vector(row["image_clip"], where, "image_clip"))
                wheres.append(where)
    if not paths:
        raise ValueError(f"{root}: no frame rows found in */*.csv")
    return paths, captions, _stack(vecs, wheres, None)


def _read_queries(path: Path, columns: tuple[str, ...], pairs, dim: int):
    out = {name: ([], [], [], []) for name, _, _ in pairs}
    n_rows = 0
    for where, row in _read_rows(path, columns):
        n_rows += 1
        for name, text_col, vec_col in pairs:
            images, texts, vecs, wheres = out[name]
            images.append(row["image"])
            texts.append(row[text_col])
            vecs.append(_vector(row[vec_col], where, vec_col))
            wheres.append(where)
    if n_rows == 0:
        raise ValueError(f"{path}: no query rows (only a header); expected one per target")
    for name, (images, texts, _, wheres) in out.items():
        seen: dict = {}
        for image, text, where in zip(images, texts, wheres):
            if (image, text) in seen:
                raise ValueError(
                    f"{where}: duplicate {name} query (same target and text as "
                    f"{seen[(image, text)]})"
                )
            seen[(image, text)] = where.rsplit(", ", 1)[-1]
    return {n: (i, t, _stack(v, w, dim), w) for n, (i, t, v, w) in out.items()}


def read_kis_mvk(data_dir: str | Path, folder_order: str = "sorted") -> KisMvkData:
    """Read a KIS_MVK ``data/`` folder (the layout ``KIS.py`` expects).

    Raises ``ValueError`` naming the file and line of a malformed row, a vector of the
    wrong length, or a query whose target frame is not in the collection.
    Book: ch10 (section "The official KIS_MVK protocol").
    """
    data_dir = Path(data_dir)
    paths, captions, frame_emb = read_collection(data_dir, folder_order)
    dim = frame_emb.shape[1]
    manual = data_dir / MANUAL_DIR
    q = _read_queries(
        manual / SAMPLES_CSV,
        ("image", "image_clip", "clipcap", "clipcap_clip", "novice", "novice_clip"),
        [("clipcap", "clipcap", "clipcap_clip"), ("novice", "novice", "novice_clip")],
        dim,
    )
    q.update(
        _read_queries(
            manual / EXPERT_CSV,
            ("image", "expert", "expert_clip"),
            [("expert", "expert", "expert_clip")],
            dim,
        )
    )
    index = _frame_index(paths)
    for name, (images, _, _, wheres) in q.items():
        for image, where in zip(images, wheres):
            if frame_id(image) not in index:
                raise ValueError(
                    f"{where}: target frame {image!r} ({name} query) is not in the "
                    f"collection {data_dir / COLLECTION_DIR}"
                )
    queries = {n: (i, t, e) for n, (i, t, e, _) in q.items()}
    return KisMvkData(paths, frame_emb, captions, queries)


def _frame_index(paths: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, p in enumerate(paths):
        key = frame_id(p)
        if key in index:
            raise ValueError(
                f"frame {p!r} appears twice in the collection (rows {index[key]} and {i})"
            )
        index[key] = i
    return index


def run_kis_mvk(data: KisMvkData, device: str | None = None) -> list[dict]:
    """Rank every query's target as KIS.py does; rows ``{query_type, target, rank}``.

    Query types are the package's (``automatic``, ``novice``, ``expert``; the files'
    ``clipcap`` is ``automatic``). Book: ch10 (section "The official KIS_MVK protocol").
    """
    index = _frame_index(data.frame_paths)
    queries = {}
    for name in QUERY_TYPES:
        images, _, emb = data.queries[name]
        targets = torch.tensor([index[frame_id(p)] for p in images], dtype=torch.long)
        queries[name] = (emb, targets)
    rows = kis_experiment(
        queries, data.frame_emb, data.frame_paths, similarity="cosine_official",
        device=device,
    )
    return rows
