"""What produced the masks in an output folder, so that a resumed run cannot mix models.

``mvk vos segment`` skips sequences whose PNGs exist. Without a record, a rerun with
another ``--model`` or ``--checkpoint`` would silently keep the old masks. The record
(``mvk_run.json`` in the output folder) holds the model name, the checkpoint's SHA-256
and the settings that change the masks (flip, memory gaps, input size, AMP...).
:func:`check_run_record` writes it for a new folder, accepts an identical one (resume),
and on a mismatch refuses, naming what differs, or, with ``redo=True``, removes the
finished results so that everything is recomputed.

Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from mvk_tutorial.utils.files import atomic_write

RECORD_NAME = "mvk_run.json"
RECORD_VERSION = 1


def file_sha256(path: str | os.PathLike, chunk: int = 2**20) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces.

    Book: ch08, section "The engine: memory over time".
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def make_run_record(
    model: str, checkpoint: str | os.PathLike | None, settings: dict
) -> dict:
    """The record of one run: model, checkpoint (name and SHA-256), settings.

    ``settings`` must be JSON-serialisable (numbers, strings, booleans, None, lists).
    Book: ch08, section "The engine: memory over time".
    """
    ckpt = None
    if checkpoint is not None:
        ckpt = {"name": Path(checkpoint).name, "sha256": file_sha256(checkpoint)}
    record = {
        "record_version": RECORD_VERSION,
        "model": model,
        "checkpoint": ckpt,
        "settings": dict(sorted(settings.items())),
    }
    json.dumps(record)  # TypeError now rather than a half-written file later
    return record


def _differences(old: dict, new: dict) -> list[str]:
    out = []
    for key in ("model", "checkpoint"):
        if old.get(key) != new.get(key):
            out.append(f"{key}: {old.get(key)!r} -> {new.get(key)!r}")
    a, b = old.get("settings", {}), new.get("settings", {})
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out.append(f"{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return out


def _has_results(out_dir: Path) -> bool:
    return any(out_dir.rglob("*.png"))


def check_run_record(out_dir: str | os.PathLike, record: dict, redo: bool = False) -> str:
    """Compare ``record`` with the one in ``out_dir``; return "new", "resume" or "redo".

    - no record and no PNGs: write it ("new");
    - the same record: nothing to do ("resume": finished sequences may be skipped);
    - another record, or PNGs without any record: ``FileExistsError`` naming the
      folder and what differs; with ``redo=True`` the folder's result sub-folders and
      PNGs are removed and the new record written ("redo").

    Book: ch08, section "The engine: memory over time".
    """
    out_dir = Path(out_dir)
    path = out_dir / RECORD_NAME
    old = None
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: unreadable run record ({exc}); delete it") from None
    if old == record:
        return "resume"
    if old is None and not (out_dir.is_dir() and _has_results(out_dir)):
        atomic_write(path, json.dumps(record, indent=1) + "\n")
        return "new"
    why = (
        "; ".join(_differences(old, record))
        if old is not None
        else "it holds masks but no record of what produced them"
    )
    if not redo:
        raise FileExistsError(
            f"{out_dir}: results of another run ({why}); pass --redo to recompute "
            "them, or choose another --out"
        )
    for p in sorted(out_dir.iterdir()):
        if p.is_dir() and any(p.rglob("*.png")):
            shutil.rmtree(p)
        elif p.suffix.lower() == ".png":
            p.unlink()
    atomic_write(path, json.dumps(record, indent=1) + "\n")
    return "redo"
