"""Execute chapter notebooks in place, so the committed outputs are real ones.

``mvk book execute book/ch01_attention.ipynb`` runs the notebook top to bottom in a
fresh kernel of the current Python (``TQDM_DISABLE=1``, inline figures), fails on
the first error (except in cells tagged ``raises-exception``), and replaces the file
atomically, so an interrupted run never leaves a half-written notebook.

Book: ch00 "How to use this book" (section "Building the book").
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def execute_notebook(path: str | Path, timeout: int = 600) -> float:
    """Execute ``path`` in place and return the seconds it took."""
    import nbformat
    from nbclient import NotebookClient

    from mvk_tutorial.utils import atomic_write

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"notebook {path}: no such file")
    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("TQDM_DISABLE", "1")
    # No MPLBACKEND here: the kernel must use its inline backend to store figures.
    os.environ.pop("MPLBACKEND", None)
    # The "python3" kernel runs `python` from PATH: make that this interpreter.
    bindir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    atomic_write(path, nbformat.writes(nb))
    return time.perf_counter() - start


def _cmd_execute(args) -> int:
    for p in args.notebooks:
        seconds = execute_notebook(p, timeout=args.timeout)
        print(f"{p}: executed in {seconds:.1f} s")
    return 0


def register(groups) -> None:
    """Add ``mvk book execute`` (see ``mvk_tutorial.cli``)."""
    p = groups["book"].add_parser("execute", help="execute notebooks in place")
    p.add_argument("notebooks", nargs="+", help="notebook files (.ipynb)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    p.set_defaults(func=_cmd_execute)
