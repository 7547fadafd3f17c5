"""Timing and memory measurement used by ``benchmarks/`` and the chapters.

Warm-up runs, CUDA synchronisation (CUDA events on a GPU), the median of several runs,
and peak memory: on CUDA the allocator's peak, on a CPU the peak increase of the
process's resident memory, sampled by a background thread every millisecond.

Book: ch00 "How to use this book" (section "Measured, not claimed").
"""

from __future__ import annotations

import platform
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


def cpu_name() -> str:
    """The CPU's model name and the vector ISA PyTorch uses, e.g.
    ``"AMD EPYC (x86_64, AVX2)"``, for labelling benchmark rows.

    Book: ch00, section "Measured, not claimed".
    """
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    model = model or platform.processor() or "CPU"
    isa = torch.backends.cpu.get_cpu_capability()
    return f"{model} ({platform.machine()}, {isa})"


def device_label(device: torch.device | str) -> str:
    """How a benchmark row names its device: ``"cuda (NVIDIA H200)"`` or
    ``"cpu (AMD EPYC (x86_64, AVX512), 1 thread(s))"``.

    Book: ch00, section "Measured, not claimed".
    """
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({cpu_name()}, {torch.get_num_threads()} thread(s))"


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


@dataclass
class MachineLimits:
    """What this device can do at best, measured in the same run as the benchmark.

    ``matmul_flops``: FLOP/s of a large square float32 matrix product (multiply-add =
    2 FLOPs), the practical compute peak; ``bandwidth``: bytes/s of a large tensor copy
    (bytes read + bytes written), the practical memory peak.
    """

    device: str
    matmul_flops: float
    bandwidth: float

    def floor_s(self, flops: float, bytes_moved: float) -> float:
        """The roofline floor: the larger of compute time and memory time."""
        return max(flops / self.matmul_flops, bytes_moved / self.bandwidth)


def measure_limits(
    device: torch.device | str = "cpu",
    size: int | None = None,
    copy_mib: int = 256,
    dtype: torch.dtype = torch.float32,
) -> MachineLimits:
    """Measure the matmul peak (in ``dtype``) and the copy bandwidth of ``device``.

    On a CPU in float32 the peak is the faster of PyTorch's two matrix products, the
    BLAS one (``torch.matmul``, MKL) and oneDNN's inner product: on AMD CPUs MKL runs
    AVX2 kernels, at about half of what an AVX-512 core does with oneDNN. The label
    names the faster. Takes a few seconds. Book: ch00, section "Measured, not claimed".
    """
    device = torch.device(device)
    n = size or (8192 if device.type == "cuda" else 2048)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    mm = benchmark(lambda: torch.matmul(a, b, out=out), "peak", device, 1, 5, False)
    library = ""
    onednn = torch.backends.mkldnn.is_available()
    if device.type == "cpu" and dtype == torch.float32 and onednn:
        bt = b.t().contiguous()
        linear = torch.ops.mkldnn._linear_pointwise
        dnn = benchmark(
            lambda: linear(a, bt, None, "none", [], ""), "peak", device, 1, 5, False
        )
        library = ", oneDNN" if dnn.min_s < mm.min_s else ", MKL"
        mm = min(mm, dnn, key=lambda r: r.min_s)
    elems = copy_mib * 2**20 // 4
    src = torch.randn(elems, device=device)
    dst = torch.empty_like(src)
    cp = benchmark(lambda: dst.copy_(src), "copy", device, 1, 5, False)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return MachineLimits(
        device=f"{name}, {str(dtype)[6:]} matmul peak{library}",
        matmul_flops=2 * n**3 / mm.min_s,
        bandwidth=2 * src.numel() * src.element_size() / cp.min_s,
    )


def roofline(
    name: str, flops: float, bytes_moved: float, seconds: float, limits: MachineLimits
) -> str:
    """One line: work, achieved rates and the distance to the machine's floor.

    e.g. ``"DeAOT-T: 41.2 GFLOP, 35.1 MB, 380 ms = 52 % of the matmul peak (108 GFLOP/s
    achieved, 0.09 GB/s); floor 198 ms, 1.9x above it"``. Book: ch00, section
    "Measured, not claimed".
    """
    floor = limits.floor_s(flops, bytes_moved)
    return (
        f"{name}: {flops / 1e9:.3g} GFLOP, {bytes_moved / 1e6:.4g} MB, "
        f"{seconds * 1e3:.4g} ms = {100 * flops / seconds / limits.matmul_flops:.3g} % of "
        f"the matmul peak ({flops / seconds / 1e9:.4g} GFLOP/s achieved of "
        f"{limits.matmul_flops / 1e9:.4g}; {bytes_moved / seconds / 1e9:.3g} GB/s of "
        f"{limits.bandwidth / 1e9:.3g}); floor {floor * 1e3:.4g} ms, "
        f"{seconds / floor:.2g}x above it ({limits.device})"
    )
