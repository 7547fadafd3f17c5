"""Atomic file writes: write to a temporary name in the same folder, then rename.

A reader (or a resumed run) never sees a half-written file. Book: ch00.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    Use it with writers that want a file name (``torch.save``, ``cv2.imwrite``,
    ``df.to_csv``). On an exception the temporary file is removed and ``path`` is left
    as it was. The temporary file has the same name as ``path``, inside a hidden
    temporary folder beside it (``.<name>.tmp-XXXX/<name>``): format-sniffing writers
    see the right suffix, and writers that record the file name (``torch.save`` names
    its archive after it) give byte-identical files for identical data.

    Book: ch00 "How to use this book".
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    tmp_path = tmp_dir / path.name
    try:
        yield tmp_path
        # give the result the usual mode (0666 - umask), whatever the writer chose
        umask = os.umask(0)
        os.umask(umask)
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically and return the path.

    Book: ch00 "How to use this book".
    """
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    with atomic_path(path) as tmp:
        with open(tmp, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)
