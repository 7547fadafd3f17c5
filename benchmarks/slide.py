"""k x k local attention three ways (Slide Attention's Figure 3) vs window attention.

    python benchmarks/slide.py                        # CPU, 1 thread, 56x56 and 112x112
    python benchmarks/slide.py --threads 2 --sizes 56 --batch 4
    python benchmarks/slide.py --device cuda

For each map size and each implementation of ``local_attention`` (``im2col``
= F.unfold, ``shift`` = k^2 slices of the padded map, ``depthwise`` = convolution with
fixed one-hot kernels) the script times the forward and the forward + backward (with
respect to q, k, v) and compares with Swin-style window attention with the same
number of keys per query (windows of M x M = k x k, here 3 x 3, via
``F.scaled_dot_product_attention``; the map is zero-padded to a multiple of M), measured in the same run. The "ratio" column is
time / time of ``im2col`` at the same size and pass.

FLOPs (multiply-add = 2) for local attention: 4 N k^2 D per image (q.k and attn.v);
the one-hot convolution additionally performs 2 N k^2 * k^2 D FLOPs to shift k and
v (it multiplies by kernels that are mostly zeros), counted in "FLOPs done". Bytes:
read q, k, v, write the output, plus the two k^2-times larger neighbour tensors
each implementation materialises (4 bytes per fp32 value); a lower bound.

Book: ch04, section "Measured speed".
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from mvk_tutorial.attention.slide import IMPLS, local_attention
from mvk_tutorial.utils import format_table, get_device, measure_limits, roofline
from mvk_tutorial.utils.bench import device_label


def window_attention(q, k, v, M: int):
    """Non-overlapping M x M windows: (B, h, d, H, W) -> same (zero-padded up to
    multiples of M at the bottom/right, cropped back)."""
    B, h, d, H0, W0 = q.shape
    ph, pw = -H0 % M, -W0 % M
    q, k, v = (F.pad(t, (0, pw, 0, ph)) for t in (q, k, v))
    H, W = H0 + ph, W0 + pw

    def part(t):  # (B, h, d, H, W) -> (B * nW, h, M*M, d)
        t = t.reshape(B, h, d, H // M, M, W // M, M).permute(0, 3, 5, 1, 4, 6, 2)
        return t.reshape(-1, h, M * M, d)

    o = F.scaled_dot_product_attention(part(q), part(k), part(v), scale=1.0)
    o = o.reshape(B, H // M, W // M, h, M, M, d).permute(0, 3, 6, 1, 4, 2, 5)
    return o.reshape(B, h, d, H, W)[..., :H0, :W0]


def _time(fn, device, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[56, 112])
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--kernel-size", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = get_device(args.device)
    ks, B, h, d = args.kernel_size, args.batch, args.heads, args.head_dim
    fns = {name: (lambda q, k, v, n=name: local_attention(q, k, v, ks, n)) for name in IMPLS}
    fns[f"window {ks}x{ks}"] = lambda q, k, v: window_attention(q, k, v, ks)
    rows = []
    for S in args.sizes:
        g = torch.Generator().manual_seed(0)
        qkv = [torch.randn(B, h, d, S, S, generator=g).to(device) for _ in range(3)]
        N, D = S * S, h * d
        useful = 4.0 * N * ks * ks * D * B
        for pass_name in ("forward", "forward+backward"):
            base = None
            for name, fn in fns.items():
                if pass_name == "forward":
                    def run(fn=fn):
                        with torch.no_grad():
                            fn(*qkv)
                else:
                    leaves = [t.clone().requires_grad_(True) for t in qkv]

                    def run(fn=fn, leaves=leaves):
                        fn(*leaves).sum().backward()
                t = _time(run, device, args.repeat)
                base = base or t
                extra = 2.0 * 2 * N * ks**4 * D * B if name == "depthwise" else 0.0
                nbr = 0 if name.startswith("window") else 2 * N * ks * ks * D * B * 4
                mult = 1 if pass_name == "forward" else 3  # backward ~ 2x forward
                rows.append({
                    "size": f"{S}x{S}", "pass": pass_name, "impl": name,
                    "ms": 1e3 * t, "ratio vs im2col": t / base,
                    "GFLOP useful": mult * useful / 1e9,
                    "GFLOP done": mult * (useful + extra) / 1e9,
                    "achieved GFLOP/s": mult * (useful + extra) / t / 1e9,
                    "MB moved (min)": (4 * N * D * B * 4 + nbr) / 2**20,
                })  # fmt: skip
    print(f"device: {device_label(device)}; torch {torch.__version__}; batch {B}, "
          f"{h} heads x {d}, k = {ks}, fp32")
    print(format_table(rows))
    limits = measure_limits(device)
    print("\nroofline (bytes: the least a kernel must move; peak and bandwidth measured "
          "in this run)")
    for r in rows:
        print(roofline(f"{r['size']} {r['pass']} {r['impl']}", 1e9 * r["GFLOP done"],
                       r["MB moved (min)"] * 2**20, r["ms"] / 1e3, limits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
