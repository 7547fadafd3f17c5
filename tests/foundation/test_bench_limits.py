"""The benchmark helpers' device labels and the choice of the CPU's float32 peak."""

from __future__ import annotations

import types

import pytest
import torch

from mvk_tutorial.utils import bench


def test_device_label_names_the_cpu_its_isa_and_threads():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.lower().startswith("model name")),
                "",
            )
    except OSError:
        model = ""
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = bench.device_label("cpu")
    finally:
        torch.set_num_threads(old)
    assert one.startswith("cpu (") and one.endswith(", 1 thread(s))")
    assert torch.backends.cpu.get_cpu_capability() in one
    if model:
        assert model in one


@pytest.mark.parametrize("blas_s,onednn_s,library", [(2.0, 1.0, "oneDNN"), (1.0, 3.0, "MKL")])
def test_cpu_peak_is_the_faster_of_the_two_products(monkeypatch, blas_s, onednn_s, library):
    if not torch.backends.mkldnn.is_available():
        pytest.skip("this PyTorch build has no oneDNN: there is only the BLAS product")
    times = iter([blas_s, onednn_s, 0.5])  # matmul, oneDNN inner product, copy
    calls = []

    def fake_benchmark(fn, name, device, warmup, repeat, sync):
        calls.append(name)
        return types.SimpleNamespace(min_s=next(times))

    monkeypatch.setattr(bench, "benchmark", fake_benchmark)
    n = 64
    limits = bench.measure_limits("cpu", size=n, copy_mib=1)
    assert calls == ["peak", "peak", "copy"]
    assert limits.device.endswith(f"float32 matmul peak, {library}")
    assert limits.matmul_flops == pytest.approx(2 * n**3 / min(blas_s, onednn_s))
    assert limits.bandwidth == pytest.approx(2 * 2**20 / 0.5)  # 1 MiB read + written


def test_bf16_peak_is_measured_by_the_blas_product_alone(monkeypatch):
    times = iter([2.0, 0.5])
    monkeypatch.setattr(
        bench, "benchmark", lambda *a, **k: types.SimpleNamespace(min_s=next(times))
    )
    limits = bench.measure_limits("cpu", size=32, copy_mib=1, dtype=torch.bfloat16)
    assert limits.device == "cpu, bfloat16 matmul peak"
    assert limits.matmul_flops == pytest.approx(2 * 32**3 / 2.0)
