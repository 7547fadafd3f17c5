"""A small, resumable downloader with a sha256 check, for users who have internet.

Nothing in the book downloads at run time; this serves ``data_scripts/`` (real MVK,
DAVIS, YouTube-VOS, checkpoints) when a user has the links. The download goes to
``<dest>.part``; an interrupted download resumes from the bytes already there (HTTP
``Range`` request; ``file://`` URLs seek), and the file is renamed to ``dest`` only when
its sha256 matches ``sha256`` (if given). A mismatch removes the partial file and
raises ``ValueError`` naming the file and both digests.

Book: ch09 "The Marine Video Kit dataset" (section "With the real data").
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
import urllib.request
from pathlib import Path
from typing import BinaryIO

from tqdm.auto import tqdm

CHUNK = 1 << 20


def sha256_of(path: str | Path, chunk: int = CHUNK) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _open(url: str, offset: int, timeout: float) -> tuple[BinaryIO, int | None, bool]:
    """Open ``url`` at byte ``offset``; return (stream, total size, resumed?)."""
    parts = urllib.parse.urlparse(url)
    if parts.scheme == "file":
        path = Path(urllib.request.url2pathname(parts.path))
        if not path.is_file():
            raise FileNotFoundError(f"{url}: source file not found")
        f = open(path, "rb")
        f.seek(offset)
        return f, path.stat().st_size, True
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"url: expected http(s):// or file://, got {url!r}")
    req = urllib.request.Request(
        url, headers={"Range": f"bytes={offset}-"} if offset else {}
    )
    resp = urllib.request.urlopen(req, timeout=timeout)
    resumed = resp.status == 206
    length = resp.headers.get("Content-Length")
    total = int(length) + (offset if resumed else 0) if length else None
    return resp, total, resumed


def download(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), check ``sha256``; return ``dest``.

    An existing ``dest`` whose digest matches is returned at once. Book: ch09.
    """
    dest = Path(dest)
    if dest.is_file() and (sha256 is None or sha256_of(dest) == sha256.lower()):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    stream, total, resumed = _open(url, offset, timeout)
    if not resumed:
        offset = 0  # the server ignored the Range request: start again
    with stream, open(part, "ab" if offset else "wb") as out:
        bar = tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            desc=dest.name,
            disable=not progress or None,
        )
        while block := stream.read(CHUNK):
            out.write(block)
            bar.update(len(block))
        bar.close()
        out.flush()
        os.fsync(out.fileno())
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256.lower():
            part.unlink(missing_ok=True)
            raise ValueError(
                f"{dest}: sha256 mismatch: expected {sha256.lower()}, got {got}; "
                "the partial file was removed, run again to restart"
            )
    os.replace(part, dest)
    return dest
