"""Make test videos: a small mp4 with OpenCV, its index moved to the front, truncated.

OpenCV's writer puts the ``moov`` box (the index) after the media data; a file cut
short then has no index and fails to open. Real files are often written "fast start"
(index first): cut short, they still open and claim every frame. :func:`faststart`
moves the ``moov`` box in front of ``mdat`` and shifts the chunk offsets it holds.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np


def write_mp4(path: Path, frames: int = 51, size=(64, 48), fps: float = 25.0) -> Path:
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    rng = np.random.default_rng(0)
    for t in range(frames):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)  # noise: big frames
        out.write(img)
    out.release()
    return path


def _boxes(data: bytes, start: int, end: int):
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[i + 8 : i + 16])[0]
            header = 16
        elif size == 0:
            size = end - i
        yield kind, i, header, size
        i += size


def _shift_offsets(moov: bytearray, start: int, end: int, delta: int) -> None:
    for kind, i, header, size in _boxes(bytes(moov), start, end):
        if kind in (b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"):
            _shift_offsets(moov, i + header, i + size, delta)
        elif kind == b"stco":
            n = struct.unpack(">I", moov[i + 12 : i + 16])[0]
            for k in range(n):
                o = i + 16 + 4 * k
                moov[o : o + 4] = struct.pack(">I", struct.unpack(">I", moov[o : o + 4])[0] + delta)
        elif kind == b"co64":
            n = struct.unpack(">I", moov[i + 12 : i + 16])[0]
            for k in range(n):
                o = i + 16 + 8 * k
                moov[o : o + 8] = struct.pack(">Q", struct.unpack(">Q", moov[o : o + 8])[0] + delta)


def faststart(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    boxes = {kind: (i, size) for kind, i, _, size in _boxes(data, 0, len(data))}
    mi, ms = boxes[b"moov"]
    moov = bytearray(data[mi : mi + ms])
    _shift_offsets(moov, 8, len(moov), ms)  # everything before moov moves by ms
    rest = data[:mi] + data[mi + ms :]
    fi, fs = boxes[b"ftyp"]
    dst.write_bytes(rest[: fi + fs] + bytes(moov) + rest[fi + fs :])
    return dst


def truncate(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
