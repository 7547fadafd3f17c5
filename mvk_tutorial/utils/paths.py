"""Checks on names that become parts of paths, and on paths before C libraries see them.

A sequence name read from a list file (``ImageSets/2017/val.txt``, a YouTube-VOS
``meta.json``) is joined to the output folder; ``../../evil`` would then write outside
it. :func:`safe_component` accepts only a single, plain path component.

OpenCV's video reader crashes the process (SIGSEGV) on some paths that are not valid
UTF-8; :func:`check_decodable_path` rejects them first, with a clear error.

Book: ch00, section "Setting up: the two commands".
"""

from __future__ import annotations

import os
from pathlib import Path


def safe_component(name: object, source_file: str | os.PathLike, line: int | str) -> str:
    """``name`` if it is one plain path component; else ValueError naming file and line.

    Rejected: non-strings, empty names, ``.`` and ``..``, names with ``/`` or ``\\``,
    absolute or drive paths, NUL and other control characters, names that are not
    valid UTF-8 (surrogate escapes).

    Book: ch00, section "Setting up: the two commands".
    """
    where = f"{source_file}, line {line}"
    if not isinstance(name, str):
        raise ValueError(f"{where}: expected a name (a string), got {name!r}")
    bad = None
    if name in ("", ".", ".."):
        bad = "is empty, '.' or '..'"
    elif "/" in name or "\\" in name:
        bad = "contains a path separator"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        bad = "contains a control character"
    elif os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        bad = "is an absolute path"
    else:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            bad = "is not valid UTF-8"
    if bad:
        raise ValueError(
            f"{where}: name {name!r} {bad}; expected a single folder name "
            "(no '/', '\\', '..', or control characters)"
        )
    return name


def check_decodable_path(path: str | os.PathLike, what: str = "path") -> Path:
    """``Path(path)`` if its text is valid UTF-8; else ValueError calling it a bad name.

    Book: ch00, section "Setting up: the two commands".
    """
    text = os.fspath(path)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                f"{what} {text!r}: bad file name (not valid UTF-8); rename it"
            ) from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "surrogateescape")
        raise ValueError(
            f"{what} {shown!r}: bad file name (not valid UTF-8); rename it"
        ) from None
    return Path(text)
