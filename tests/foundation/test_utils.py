"""mvk_tutorial.utils: device choice, seeding, atomic writes, benchmark helper."""

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from mvk_tutorial.utils import (
    atomic_path,
    atomic_write,
    benchmark,
    format_table,
    get_device,
    seed_everything,
)


def test_get_device_default_order(monkeypatch):
    monkeypatch.delenv("MVK_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    if expected is None:
        mps = getattr(torch.backends, "mps", None)
        expected = "mps" if mps is not None and mps.is_available() else "cpu"
    assert get_device().type == expected


def test_get_device_env_override(monkeypatch):
    monkeypatch.setenv("MVK_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_get_device_unavailable_cuda_names_the_variable(monkeypatch):
    monkeypatch.setenv("MVK_DEVICE", "cuda")
    with pytest.raises(ValueError, match="MVK_DEVICE"):
        get_device()


def test_get_device_rejects_unknown():
    with pytest.raises((ValueError, RuntimeError)):
        get_device("tpu")


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    seed_everything(123)
    a = draw()
    seed_everything(123)
    b = draw()
    seed_everything(124)
    c = draw()
    assert a == b
    assert all(x != y for x, y in zip(a, c))


def test_seed_everything_returns_seeded_generator():
    g1, g2 = seed_everything(5), seed_everything(5)
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


def test_atomic_write_text_and_bytes(tmp_path):
    p = atomic_write(tmp_path / "sub" / "a.txt", "hello")
    assert p.read_text() == "hello"
    atomic_write(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    assert sorted(x.name for x in p.parent.iterdir()) == ["a.txt"]


def test_atomic_write_gives_the_usual_file_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        p = atomic_write(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o644


def test_atomic_path_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "weights.pt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            assert tmp.suffix == ".pt" and tmp.parent.parent == tmp_path  # same file system
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["weights.pt"]


def test_atomic_path_with_torch_save(tmp_path):
    target = tmp_path / "t.pt"
    with atomic_path(target) as tmp:
        torch.save({"x": torch.arange(3)}, tmp)
    assert torch.equal(torch.load(target)["x"], torch.arange(3))


def test_benchmark_median_and_memory():
    calls = []

    def fn():
        calls.append(1)
        return torch.ones(2_000_000).sum()  # 8 MB

    r = benchmark(fn, name="ones", warmup=2, repeat=3)
    assert len(calls) == 2 + 3 + 1  # warm-up, timed runs, one memory run
    assert len(r.times_s) == 3 and r.median_s == sorted(r.times_s)[1]
    assert r.peak_mem_bytes is not None and r.peak_mem_bytes >= 0
    with pytest.raises(ValueError, match="repeat"):
        benchmark(fn, repeat=0)


def test_format_table_aligns_columns():
    text = format_table([{"n": 256, "ms": 1.23456}, {"n": 16384, "ms": 100.0}])
    lines = text.splitlines()
    assert lines[0].split() == ["n", "ms"]
    assert len({len(line) for line in lines}) == 1
    assert "1.235" in text and "16384" in text
