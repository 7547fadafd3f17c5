"""Timing and memory measurement used by ``benchmarks/`` and the chapters.

Warm-up runs, CUDA synchronisation (CUDA events on a GPU), the median of several runs,
and peak memory: on CUDA the allocator's peak, on a CPU the peak increase of the
process's resident memory, sampled by a background thread every millisecond.

Book: ch00 "How to use this book" (section "Measured, not claimed").
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch


@dataclass
class BenchResult:
    """Timings in seconds of each run, the median, and peak memory in bytes."""

    name: str
    times_s: list[float] = field(default_factory=list)
    peak_mem_bytes: int | None = None
    device: str = "cpu"

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # not Linux: fall back to the peak RSS so far
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _RssSampler:
    """Sample the resident set size in a thread; ``peak - start`` is the estimate."""

    def __init__(self, interval_s: float = 0.001):
        self.interval_s = interval_s
        self.start = self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.interval_s)

    def __enter__(self) -> "_RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def benchmark(
    fn: Callable[[], object],
    name: str = "",
    device: torch.device | str = "cpu",
    warmup: int = 1,
    repeat: int = 5,
    measure_memory: bool = True,
) -> BenchResult:
    """Time ``fn()``: ``warmup`` untimed runs, then ``repeat`` timed runs.

    On CUDA each run is timed with CUDA events after a synchronisation; elsewhere with
    ``time.perf_counter``. Peak memory is measured over one extra run.

    Book: ch00 "How to use this book"; used by every script in ``benchmarks/``.
    """
    device = torch.device(device)
    if repeat < 1:
        raise ValueError(f"repeat: expected at least 1, got {repeat}")
    for _ in range(warmup):
        fn()
    _sync(device)
    result = BenchResult(name=name, device=str(device))
    for _ in range(repeat):
        if device.type == "cuda":
            start, end = torch.cuda.Event(True), torch.cuda.Event(True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            result.times_s.append(start.elapsed_time(end) / 1000.0)
        else:
            t0 = time.perf_counter()
            fn()
            _sync(device)
            result.times_s.append(time.perf_counter() - t0)
    if measure_memory:
        result.peak_mem_bytes = _peak_memory(fn, device)
    return result


def _peak_memory(fn: Callable[[], object], device: torch.device) -> int:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - base)
    with _RssSampler() as sampler:
        fn()
    return int(max(0, sampler.peak - sampler.start))


def format_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Format a list of dicts as a plain-text table (what benchmark scripts print)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    body = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(columns)]
    line = "  ".join(c.rjust(w) for c, w in zip(columns, widths))
    sep = "  ".join("-" * w for w in widths)
    out = [line, sep] + ["  ".join(v.rjust(w) for v, w in zip(b, widths)) for b in body]
    return "\n".join(out)
