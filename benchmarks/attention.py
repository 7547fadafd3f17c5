"""Time and peak memory of attention: from scratch vs F.scaled_dot_product_attention.

    python benchmarks/attention.py                      # CPU, lengths 256..16384
    python benchmarks/attention.py --lengths 256 1024 --csv out.csv
    python benchmarks/attention.py --device cuda        # every available SDPA backend

Part 1 times one attention call (B x heads x n x head_dim) for each sequence length:
the book's from-scratch ``scaled_dot_product_attention`` (it materialises the n x n
score matrix), and ``F.scaled_dot_product_attention`` with its default choice and with
each backend forced (math, flash, efficient, cudnn; those a device refuses are listed
as unavailable). FLOPs follow the convention of shared/reference: 4 n^2 d per head
(QK^T and AV, a multiply-add = 2 FLOPs; softmax not counted). Paths that would need
more than ``--max-gb`` for their n x n matrices are skipped and say so.

Part 2 compares ``MultiHeadAttention``'s fast path with ``torch.nn.MultiheadAttention``
(eval, inference mode, same weights) in interleaved rounds, and prints the ratio.

Timings on a shared machine are noisy; the script says on which device it ran.
Book: ch01 "Scaled dot-product attention" (section "Cost").
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from mvk_tutorial.attention import MultiHeadAttention, attention_flops
from mvk_tutorial.attention import scaled_dot_product_attention as scratch_sdpa
from mvk_tutorial.utils import (
    benchmark,
    format_table,
    get_device,
    measure_limits,
    roofline,
)
from mvk_tutorial.utils.bench import device_label

BACKENDS = {
    "math": SDPBackend.MATH,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
}


def _sdpa_fn(backend: str | None):
    def run(q, k, v):
        ctx = sdpa_kernel(BACKENDS[backend]) if backend else contextlib.nullcontext()
        with ctx:
            return F.scaled_dot_product_attention(q, k, v)

    return run


def available_backends(device, dtype) -> list[str]:
    q = torch.randn(1, 1, 64, 64, device=device, dtype=dtype)
    ok = []
    for name in BACKENDS:
        try:
            with torch.inference_mode(), _quiet():
                _sdpa_fn(name)(q, q, q)
            ok.append(name)
        except RuntimeError:
            pass
    return ok


@contextlib.contextmanager
def _quiet():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _time_length(n: int, impls, args, device, dtype) -> list[dict]:
    """All implementations at one sequence length n."""
    B, h, d = args.batch, args.heads, args.head_dim
    q, k, v = (torch.randn(B, h, n, d, device=device, dtype=dtype) for _ in range(3))
    flops = B * h * attention_flops(n, n, d)
    scores_gb = 3 * B * h * n * n * q.element_size() / 1e9  # scores, exp, weights
    slow = n >= args.big
    rows = []
    for impl, backend in impls:
        name = (
            "from scratch" if impl == "scratch" else f"F.sdpa [{backend or 'default'}]"
        )
        row = {
            "n": n,
            "impl": name,
            "time_ms": "",
            "best_ms": "",
            "peak_mem_MB": "",
            "GFLOP": round(flops / 1e9, 3),
            "GFLOP/s": "",
            "note": "",
        }
        if (impl == "scratch" or backend == "math") and scores_gb > args.max_gb:
            row["note"] = (
                f"skipped: n x n matrices need ~{scores_gb:.1f} GB > {args.max_gb} GB"
            )
            rows.append(row)
            continue
        if impl == "scratch":

            def fn():
                return scratch_sdpa(q, k, v)
        else:
            fn = functools.partial(_sdpa_fn(backend), q, k, v)
        with torch.inference_mode(), _quiet():
            r = benchmark(
                fn,
                name=name,
                device=device,
                warmup=0 if slow else 1,
                repeat=1 if slow else args.repeat,
            )
        row.update(
            time_ms=round(r.median_s * 1e3, 3),
            best_ms=round(r.min_s * 1e3, 3),
            peak_mem_MB=round((r.peak_mem_bytes or 0) / 2**20, 1),
            **{"GFLOP/s": round(flops / r.min_s / 1e9, 2)},
        )
        rows.append(row)
        print(f"  n={n:>6} {name:<22} {row['time_ms']:>10} ms", file=sys.stderr)
    return rows


def time_attention(args, device, dtype) -> list[dict]:
    backends = available_backends(device, dtype)
    impls = [("scratch", None), ("sdpa", None)] + [("sdpa", b) for b in backends]
    rows = []
    for n in args.lengths:
        rows += _time_length(n, impls, args, device, dtype)
    for b in BACKENDS:
        if b not in backends:
            rows.append(
                {
                    "n": "-",
                    "impl": f"F.sdpa [{b}]",
                    "note": f"unavailable on {device.type}",
                }
            )
    return rows


def compare_mha(device, dtype, rounds: int) -> list[dict]:
    """Interleaved rounds of nn.MultiheadAttention and our fast path (same weights)."""
    rows = []
    for B, N, C, h in [(32, 65, 96, 4), (8, 197, 192, 3), (2, 1024, 256, 8)]:
        torch.manual_seed(0)
        ref = nn.MultiheadAttention(C, h, batch_first=True).to(device, dtype).eval()
        ours = MultiHeadAttention(C, h).to(device, dtype).eval()
        ours.load_state_dict(ref.state_dict())
        ours.fused_attn = True
        x = torch.randn(B, N, C, device=device, dtype=dtype)
        t_ref, t_ours = [], []
        with torch.inference_mode():
            for _ in range(rounds):
                t_ref += benchmark(
                    functools.partial(ref, x, x, x, need_weights=False),
                    device=device,
                    warmup=1,
                    repeat=3,
                    measure_memory=False,
                ).times_s
                t_ours += benchmark(
                    functools.partial(ours, x),
                    device=device,
                    warmup=1,
                    repeat=3,
                    measure_memory=False,
                ).times_s
        # The best of many interleaved runs: the least disturbed by other processes.
        ratio = min(t_ours) / min(t_ref)
        rows.append(
            {
                "B, N, C, heads": f"{B}, {N}, {C}, {h}",
                "nn.MultiheadAttention_ms": round(min(t_ref) * 1e3, 3),
                "MultiHeadAttention_ms": round(min(t_ours) * 1e3, 3),
                "ratio (ours / torch)": round(ratio, 3),
                "verdict": "no slower" if ratio <= 1.05 else "SLOWER",
            }
        )
    return rows


def print_roofline(rows: list[dict], args, device, dtype) -> None:
    """The distance of each length's best time to this machine's floor.

    Bytes: a fused kernel must read Q, K, V and write O once (4 B h n d elements); the
    from-scratch path also writes and reads its n x n scores, exponentials and weights
    (about 6 B h n^2 elements).
    """
    limits = measure_limits(device, dtype=dtype)
    e = torch.empty(0, dtype=dtype).element_size()
    print(f"\nroofline (peak measured in this run: {limits.matmul_flops / 1e9:.4g} GFLOP/s, "
          f"copy {limits.bandwidth / 1e9:.3g} GB/s)")
    B, h, d = args.batch, args.heads, args.head_dim
    for n in args.lengths:
        timed = [r for r in rows if r.get("n") == n and r.get("best_ms") not in ("", None)]
        for r in timed:
            if r["impl"] not in ("from scratch", "F.sdpa [default]"):
                continue
            moved = 4 * B * h * n * d * e
            if r["impl"] == "from scratch":
                moved += 6 * B * h * n * n * e
            print(roofline(f"n={n} {r['impl']}", r["GFLOP"] * 1e9, moved,
                           r["best_ms"] / 1e3, limits))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--lengths",
        type=int,
        nargs="+",
        default=[256, 512, 1024, 2048, 4096, 8192, 16384],
    )
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--device", default=None, help="cpu, cuda (default: get_device())")
    p.add_argument(
        "--dtype", default=None, help="float32 (CPU default) or bfloat16 (CUDA default)"
    )
    p.add_argument(
        "--repeat", type=int, default=5, help="timed runs per case (1 for n >= --big)"
    )
    p.add_argument(
        "--big", type=int, default=4096, help="from this n on: no warm-up, 1 run"
    )
    p.add_argument(
        "--max-gb", type=float, default=3.0, help="skip n x n paths above this"
    )
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--mha-rounds", type=int, default=10)
    p.add_argument("--skip-mha", action="store_true")
    p.add_argument("--csv", default=None, help="also write the attention table here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = get_device(args.device)
    dtype = (
        getattr(torch, args.dtype)
        if args.dtype
        else (torch.bfloat16 if device.type == "cuda" else torch.float32)
    )
    label = device_label(device)
    print(
        f"device: {label}; torch {torch.__version__}; dtype {str(dtype)[6:]}; "
        f"B={args.batch}, heads={args.heads}, head_dim={args.head_dim}"
    )
    print(
        "FLOPs = 4 n^2 d per head (multiply-add = 2 FLOPs); time_ms = median, best_ms = "
        "min of the runs (GFLOP/s from best_ms); memory = peak increase (CUDA allocator, "
        "or process RSS sampled every ms on a CPU: small buffers reuse freed memory and "
        "may show as 0)\n"
    )
    t0 = time.perf_counter()
    rows = time_attention(args, device, dtype)
    print(format_table(rows))
    print_roofline(rows, args, device, dtype)
    if args.csv:
        import pandas as pd

        from mvk_tutorial.utils import atomic_path

        df = pd.DataFrame(rows).assign(
            device=label,
            dtype=str(dtype)[6:],
            batch=args.batch,
            heads=args.heads,
            head_dim=args.head_dim,
            torch=torch.__version__,
        )
        with atomic_path(args.csv) as tmp:
            df.to_csv(tmp, index=False)
        print(f"\nwrote {args.csv}")
    if not args.skip_mha:
        print(
            "\nMultiHeadAttention fast path vs torch.nn.MultiheadAttention "
            f"(eval, inference mode, best of {args.mha_rounds} interleaved rounds x 3 runs):"
        )
        print(format_table(compare_mha(device, dtype, args.mha_rounds)))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s on {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
