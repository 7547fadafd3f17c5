"""Cost of four token mixers at Swin stage-1 sizes: global, window, deformable conv, DAT.

    python benchmarks/variants.py                       # CPU, 56x56 and 112x112, C = 96
    python benchmarks/variants.py --sizes 28 56 --threads 2 --csv out.csv
    python benchmarks/variants.py --device cuda         # on a GPU, when one is available

Each mixer is one layer, forward only (inference mode, fp32, batch 1), input (B, C, H, W):

* ``global``: multi-head self-attention over all H*W tokens (qkv + SDPA + proj); the
  baseline of the ratio column;
* ``window``: Swin window attention (7 x 7 windows, shifted, with the bias), qkv + proj;
* ``deform_conv``: 3 x 3 deformable conv (C -> C) with its offset conv, ours (from
  scratch, :func:`mvk_tutorial.attention.deform_conv.deform_conv2d`) and torchvision's
  compiled op on the same offsets;
* ``dat``: deformable attention, 3 heads, 1 group, offset stride 8 (7 x 7 keys at 56^2).

FLOPs count a multiply-add as 2 FLOPs (matmuls and convs; softmax, bilinear sampling and
norms not counted): global 8NC^2 + 4N^2C, window 8NC^2 + 4NM^2C, deformable conv
2NC^2k^2 + offset conv, DAT 4NC^2 + 4N_sC^2 + 4NN_sC + offset net. Bytes = input +
output + weights (the least a kernel must move); ``columns MB`` is the sampled tensor a
deformable conv materialises (k^2 times the input: the seed's "high memory").
Peak memory: CUDA allocator peak, or the process's RSS increase on a CPU.

Book: ch03, section "Cost versus resolution".
"""

from __future__ import annotations

import argparse
import csv

import torch
import torchvision

from mvk_tutorial.attention.mixers import DATMixer, DeformConvMixer, GlobalMixer, WindowMixer
from mvk_tutorial.utils import benchmark, format_table, get_device, measure_limits, roofline
from mvk_tutorial.utils.traffic import TrafficCounter
from mvk_tutorial.utils.bench import device_label


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[56, 112], help="map side H = W")
    ap.add_argument("--dim", type=int, default=96)
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default=None)
    ap.add_argument("--csv", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = get_device(args.device)
    torch.manual_seed(0)
    C, B = args.dim, args.batch
    rows, lines = [], []
    limits = measure_limits(device)
    for S in args.sizes:
        H = W = S
        x = torch.randn(B, C, H, W, device=device)
        dat = DATMixer(C, args.heads, H, W, stride=8).to(device).eval()
        dconv = DeformConvMixer(C, offset_std=0.01).to(device).eval()  # non-trivial offsets
        mixers = {
            "global": GlobalMixer(C, args.heads),
            "window": WindowMixer(C, args.heads, 7, 3),
            "deform_conv (ours)": dconv,
            "deform_conv (torchvision)": dconv,
            "dat": dat,
        }
        base = None
        for name, m in mixers.items():
            m = m.to(device).eval()
            fn = m
            if name == "deform_conv (torchvision)":
                def fn(t, m=m):
                    return torchvision.ops.deform_conv2d(
                        t, m.offset_conv(t), m.weight, m.bias, padding=1)
            with torch.inference_mode():
                r = benchmark(lambda: fn(x), name=name, device=device, warmup=1,
                              repeat=args.repeat)
            fl = m.flops(H, W)
            with torch.inference_mode(), TrafficCounter() as tc:
                fn(x)
            lines.append(roofline(f"{H}x{W} {name}", fl, tc.bytes, r.median_s, limits))
            params = sum(p.numel() for p in m.parameters())
            nbytes = 4 * (2 * x.numel() + params)
            base = base or r.median_s
            keys = {"global": H * W, "window": 49, "dat": None}.get(name, 9)
            if name == "dat":
                hk, wk = m.attn.key_grid_size(H, W)
                keys = hk * wk
            rows.append({
                "map": f"{H}x{W}",
                "mixer": name,
                "keys/query": keys,
                "ms": round(r.median_s * 1e3, 2),
                "vs global": round(r.median_s / base, 3),
                "GFLOP": round(fl / 1e9, 3),
                "GFLOP/s": round(fl / r.median_s / 1e9, 2),
                "MB moved (min)": round(nbytes / 2**20, 2),
                "peak MB": round((r.peak_mem_bytes or 0) / 2**20, 1),
                "columns MB": round(m.columns_bytes(B, H, W) / 2**20, 1)
                if name.startswith("deform_conv") else "",
                "device": device_label(device),
            })
    print(format_table(rows))
    print("FLOPs: multiply-add = 2 FLOPs; measured on", device_label(device))
    print("\nroofline (bytes: what the operators read and write, an upper bound on memory "
          "traffic; peak and bandwidth measured in this run)")
    print("\n".join(lines))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
