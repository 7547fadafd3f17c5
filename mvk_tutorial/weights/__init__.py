"""The tiny weight files shipped with the package.

Each ``<name>.pt`` here was produced by the package's own training command; the
sidecar ``<name>.md`` beside it states that command, its seed, the data and the final
metrics. Book: ch00 "How to use this book" (section "Where data and weights come from").
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent


def weights_path(name: str) -> Path:
    """Path of the shipped weight file ``name`` (with or without ``.pt``).

    Raises ``FileNotFoundError`` naming the file and listing what is shipped.
    """
    filename = name if name.endswith(".pt") else f"{name}.pt"
    path = WEIGHTS_DIR / filename
    if not path.is_file():
        shipped = ", ".join(w["name"] for w in list_weights()) or "none"
        raise FileNotFoundError(
            f"shipped weights {filename!r} not found in {WEIGHTS_DIR.name}/ "
            f"(shipped: {shipped})"
        )
    return path


def list_weights() -> list[dict]:
    """One dict per shipped weight file: name, size in MB, and the sidecar's first line."""
    rows = []
    for path in sorted(WEIGHTS_DIR.glob("*.pt")):
        sidecar = path.with_suffix(".md")
        title = ""
        if sidecar.is_file():
            lines = [x.strip("# ").strip() for x in sidecar.read_text().splitlines()]
            title = next((x for x in lines if x), "")
        rows.append(
            {
                "name": path.stem,
                "size_mb": round(path.stat().st_size / 2**20, 2),
                "provenance": sidecar.name if sidecar.is_file() else "(missing sidecar)",
                "description": title,
            }
        )
    return rows
