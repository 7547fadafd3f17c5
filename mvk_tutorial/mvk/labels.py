"""Readers for the label files of an MVK-mini collection (captions, frame labels, masks).

All readers take the collection ``root`` (what ``ensure_mvk_mini`` returns) and return
pandas DataFrames whose ``*_path`` columns are absolute path strings. The files are
described in the docstring of ``mvk_tutorial.mvk.synthetic``.

Book: ch09 "The Marine Video Kit dataset".
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mvk_tutorial.mvk.scene import CLASSES

# DAVIS palette masks: one implementation, shared with mvk_tutorial.vos (reader, writer)
from mvk_tutorial.vos.io import davis_palette, read_mask
from mvk_tutorial.vos.io import write_mask as write_palette_png

CAPTIONS_CSV = "information/captions.csv"
FRAME_LABELS_CSV = "labels/frame_labels.csv"
OBJECTS_CSV = "labels/objects.csv"
MANIFEST = "mvk_mini.json"


def _read_csv(
    root: str | Path, rel: str, path_columns: tuple[str, ...]
) -> pd.DataFrame:
    root = Path(root)
    path = root / rel
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; expected an MVK-mini collection made by ensure_mvk_mini() "
            "or `mvk data synth`"
        )
    df = pd.read_csv(path, dtype={"video": str}, keep_default_na=False)
    for col in path_columns:
        df[col] = [str(root / p) for p in df[col]]
    return df


def load_manifest(root: str | Path) -> dict:
    """The collection's ``mvk_mini.json``: preset, generator version, seed, sizes, classes."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; {root} is not a finished MVK-mini collection"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def load_captions(root: str | Path) -> pd.DataFrame:
    """Captions of the selected frames: one row per frame in ``selected_frames``.

    Columns: ``site, video, seq, split, frame_index, frame_path`` (the selected-frame
    JPEG), ``automatic, novice, expert``. Book: ch09, ch10.
    """
    return _read_csv(root, CAPTIONS_CSV, ("frame_path",))


def load_frame_labels(root: str | Path) -> pd.DataFrame:
    """Labels of EVERY frame of every video (one row per frame).

    Columns: ``site, video, seq, split, frame_index, selected`` (bool: also a selected
    frame), ``frame_path`` (DAVIS JPEG), ``annotation_path`` (DAVIS palette PNG, object
    ids), ``semantic_path`` (grey PNG, class ids indexing ``CLASSES``), ``main_class``,
    ``main_class_id`` (0 = no animal visible), ``present`` (list of visible class names),
    ``num_visible``, one ``px_<class>`` column of visible pixels per class (spaces in
    class names become ``_``), and the three captions ``automatic, novice, expert``
    (made for every frame, not only the selected ones). Book: ch02, ch05, ch06, ch09.
    """
    df = _read_csv(
        root, FRAME_LABELS_CSV, ("frame_path", "annotation_path", "semantic_path")
    )
    df["present"] = [p.split(";") if p else [] for p in df["present"]]
    df["selected"] = df["selected"].astype(bool)
    return df


def load_objects(root: str | Path) -> pd.DataFrame:
    """One row per object of every video: ``seq, obj_id, class_name, class_id,
    first_frame, last_frame, depth`` (frames where it is visible). Book: ch07, ch09."""
    return _read_csv(root, OBJECTS_CSV, ())


__all__ = [
    "CLASSES",
    "davis_palette",
    "load_captions",
    "load_frame_labels",
    "load_manifest",
    "load_objects",
    "read_mask",
    "write_palette_png",
]
