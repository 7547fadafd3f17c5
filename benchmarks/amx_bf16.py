"""Can the CPU's bf16 units (AMX) stand in for DeAOT's fp32 matmuls? A measured no.

The book's CPUs have bf16 units (AMX-BF16 tiles on the Intel Xeon builds, AVX512-BF16
on the AMD EPYC one; the script names the one it finds): a bf16 matmul runs far above
the fp32 peak. The classic way to buy fp32 accuracy with bf16 units is the *split*
product ("bf16x3"):
write each operand as hi + lo with hi = bf16(x) and lo = bf16(x - hi), and sum the
three products hi*hi + hi*lo + lo*hi, each accumulated in fp32. That only works if the
matmul can *return* its fp32 accumulator. This script measures, in one run, on shapes
of DeAOT-T at 481x849 (31x54 = 1674 tokens, the 256 -> 1024 value projection):

- the bare fp32 matmul (the baseline) and the bare bf16 matmul;
- bf16x3 as stock PyTorch allows it on a CPU, where each bf16 product is rounded to a
  bf16 *output* (``aten::mm`` has no ``out_dtype`` on CPU, ``out=`` must be bf16,
  ``addmm`` refuses mixed dtypes);
- bf16x3 through oneDNN's ``fpmath`` mode (``torch.backends.mkldnn.matmul.fp32_precision
  = "bf16"``): fp32 tensors whose values are bf16-exact go in, oneDNN converts them to
  bf16 without loss, multiplies on the bf16 units, and hands back the fp32 accumulator,
  so the split product loses only the dropped lo*lo term and fp32 sums; the questions
  are its error and its speed;
- its error against float64, next to fp32's and to the budget of 5e-6 of the largest
  output (what a whole fp32 DeAOT frame keeps against the official engine, chapter 8).

Usage: ``python benchmarks/amx_bf16.py [--threads 1]``. Book: ch08, section "Where the
remaining time goes".
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path

import torch

from mvk_tutorial.utils import benchmark, format_table, measure_limits, roofline

# what our whole fp32 DeAOT frame keeps against the official engine: 2e-6 of the largest
# logit on the parity fixtures, 4e-6 to 1e-5 in benchmarks/deaot.py; the parity tests
# themselves allow 1e-4 absolute on logits of at most 2.25 (4.4e-5 of the largest)
TOLERANCE = 5e-6


def split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (fp32) = hi + lo + O(2^-16 |x|), both parts in bf16."""
    hi = x.bfloat16()
    return hi, (x - hi.float()).bfloat16()


def bf16x3(a: torch.Tensor, b_hi: torch.Tensor, b_lo: torch.Tensor) -> torch.Tensor:
    """a (M, K) fp32 @ b split once (a weight): three bf16 products, summed in fp32."""
    a_hi, a_lo = split(a)
    return (a_hi @ b_hi).float() + (a_hi @ b_lo).float() + (a_lo @ b_hi).float()


@contextmanager
def fpmath_bf16():
    """oneDNN multiplies fp32 matmuls in bf16 (fp32 accumulator and output) inside."""
    old = torch.backends.mkldnn.matmul.fp32_precision
    torch.backends.mkldnn.matmul.fp32_precision = "bf16"
    try:
        yield
    finally:
        torch.backends.mkldnn.matmul.fp32_precision = old


def bf16x3_fpmath(
    a: torch.Tensor, b_hi: torch.Tensor, b_lo: torch.Tensor
) -> torch.Tensor:
    """The split product with fp32 outputs: parts kept as bf16-exact fp32 tensors, each
    product by oneDNN in fpmath=bf16 mode (exact products, fp32 sums)."""
    a_hi, a_lo = (part.float() for part in split(a))  # bf16-exact, in fp32
    with fpmath_bf16():
        return a_hi @ b_hi + a_hi @ b_lo + a_lo @ b_hi


def bf16_unit() -> str:
    """The CPU's bf16 matrix unit as Linux names it: AMX tiles, AVX512-BF16 dot
    products (e.g. AMD EPYC), or none (bf16 products are then emulated)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    if "amx_bf16" in flags:
        return "AMX"
    return "AVX512-BF16" if "avx512_bf16" in flags else "none"


UNIT = bf16_unit()
BF16 = f"bf16 matmul ({UNIT})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=31 * 54)
    ap.add_argument("--k", type=int, default=256)
    ap.add_argument("--n", type=int, default=1024)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    M, K, N = args.tokens, args.k, args.n
    a, b = torch.randn(M, K), torch.randn(K, N) / K**0.5
    b_hi, b_lo = split(b)
    b_hi32, b_lo32 = b_hi.float(), b_lo.float()  # bf16-exact, in fp32 (fpmath path)
    a16, b16 = a.bfloat16(), b.bfloat16()
    exact = a.double() @ b.double()
    scale = exact.abs().max().item()

    cases = {
        "fp32 matmul (baseline)": lambda: a @ b,
        BF16: lambda: a16 @ b16,
        "bf16x3, bf16 outputs": lambda: bf16x3(a, b_hi, b_lo),
        "bf16x3, fp32 outputs (fpmath)": lambda: bf16x3_fpmath(a, b_hi32, b_lo32),
    }
    flops = 2 * M * K * N
    moved = {  # bytes read and written once
        "fp32 matmul (baseline)": 4 * (M * K + K * N + M * N),
        BF16: 2 * (M * K + K * N + M * N),
        "bf16x3, bf16 outputs": 4 * M * K + 2 * (2 * M * K + 2 * K * N + 3 * M * N) + 4 * M * N,
        "bf16x3, fp32 outputs (fpmath)": 4 * (3 * M * K + 3 * (M * K + K * N + M * N)
                                              + 2 * M * N),
    }
    limits = measure_limits("cpu")
    print(f"device: cpu, {torch.get_num_threads()} thread(s); shapes ({M} x {K}) @ ({K} x {N})")
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}; bf16 unit: {UNIT}")
    rows, times, errors = [], {}, {}
    for name, fn in cases.items():
        r = benchmark(fn, name, "cpu", 2, 10, False)
        times[name] = r.min_s
        err = errors[name] = (fn().double() - exact).abs().max().item() / scale
        rows.append({
            "path": name,
            "ms": round(r.min_s * 1e3, 3),
            "GFLOP/s": round(flops / r.min_s / 1e9, 1),
            "vs fp32": f"{times['fp32 matmul (baseline)'] / r.min_s:.2f}x",
            "max error / max |out|": f"{err:.1e}",
            f"within {TOLERANCE:.0e}": "yes" if err <= TOLERANCE else "no",
        })
    print(format_table(rows))
    for name in cases:
        print(roofline(name, flops, moved[name], times[name], limits))
    bf = measure_limits("cpu", dtype=torch.bfloat16)
    print(f"bf16 matmul peak (2048^3): {bf.matmul_flops / 1e9:.0f} GFLOP/s = "
          f"{bf.matmul_flops / limits.matmul_flops:.1f}x the fp32 peak "
          f"({limits.matmul_flops / 1e9:.0f} GFLOP/s)")
    x3 = times["fp32 matmul (baseline)"] / times["bf16x3, bf16 outputs"]
    print(f"verdict: bf16x3 as stock PyTorch runs it is {x3:.2f}x the fp32 matmul (the splits, "
          f"casts and sums cost more than the three {UNIT} products) and keeps bf16's 2^-9 "
          f"output rounding, far outside {TOLERANCE:.0e}; only a kernel that returns "
          f"the fp32 accumulator (and fuses the split) could use the {UNIT} units for DeAOT.")
    fp = "bf16x3, fp32 outputs (fpmath)"
    xf = times["fp32 matmul (baseline)"] / times[fp]
    inside = "inside" if errors[fp] <= TOLERANCE else "outside"
    print(f"verdict (fpmath): oneDNN's fpmath=bf16 mode does return the fp32 accumulator, so "
          f"bf16x3's error falls to {errors[fp]:.1e} of the largest output ({inside} "
          f"{TOLERANCE:.0e}), but it runs at {xf:.2f}x the fp32 matmul: "
          "in that mode oneDNN converts both fp32 operands to bf16 inside every product "
          "(the weight is not kept packed in bf16), and three such products plus the split "
          "cost more than one fp32 product.")


if __name__ == "__main__":
    main()
