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
import platform

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from mvk_tutorial.attention.dat import DeformableAttention
from mvk_tutorial.attention.deform_conv import DeformConv2d, deform_conv2d
from mvk_tutorial.attention.swin import SwinTransformerBlock
from mvk_tutorial.utils import benchmark, format_table, get_device


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


class GlobalAttention(nn.Module):
    """qkv -> SDPA over all tokens -> proj, on an NCHW map."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        B, C, H, W = x.shape
        t = x.flatten(2).transpose(1, 2)  # (B, N, C)
        q, k, v = self.qkv(t).view(B, H * W, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, d)
        return self.proj(o.transpose(1, 2).reshape(B, H * W, C))


class WindowMixer(nn.Module):
    """The attention half of a shifted Swin block on an NCHW map."""

    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        self.block = SwinTransformerBlock(dim, heads, window, window // 2)

    def forward(self, x):
        B, C, H, W = x.shape
        t = x.flatten(2).transpose(1, 2)  # (B, N, C)
        return self.block(t, H, W)


def flops(kind: str, H: int, W: int, C: int, window: int = 7, ns: int = 49, k: int = 3) -> int:
    N = H * W
    if kind == "global":
        return 8 * N * C * C + 4 * N * N * C
    if kind == "window":  # + the block's MLP (ratio 4) is not part of the mixer: excluded
        return 8 * N * C * C + 4 * N * window * window * C
    if kind.startswith("deform_conv"):
        return 2 * N * C * C * k * k + 2 * N * C * 2 * k * k * k * k
    if kind == "dat":
        return 4 * N * C * C + 4 * ns * C * C + 4 * N * ns * C + 2 * ns * C * (9 * 9 + 2)
    raise ValueError(kind)


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
    rows = []
    for S in args.sizes:
        H = W = S
        x = torch.randn(B, C, H, W, device=device)
        dat = DeformableAttention((H, W), n_heads=args.heads, n_head_channels=C // args.heads,
                                  n_groups=1, stride=8, stage_idx=0).to(device).eval()
        ns = dat.key_grid_size(H, W)
        ns = ns[0] * ns[1]
        dconv = DeformConv2d(C, C, 3, padding=1).to(device).eval()
        with torch.no_grad():
            dconv.offset_conv.weight.normal_(0, 0.01)  # non-trivial offsets
        mixers = {
            "global": GlobalAttention(C, args.heads).to(device).eval(),
            "window": WindowMixer(C, args.heads, 7).to(device).eval(),
            "deform_conv (ours)": dconv,
            "deform_conv (torchvision)": lambda t: torchvision.ops.deform_conv2d(
                t, dconv.offset_conv(t), dconv.weight, dconv.bias, padding=1),
            "dat": lambda t: dat(t)[0],
        }
        base = None
        for name, fn in mixers.items():
            with torch.inference_mode():
                r = benchmark(lambda: fn(x), name=name, device=device, warmup=1, repeat=args.repeat)
            kind = name.split(" ")[0]
            fl = flops(kind, H, W, C, ns=ns)
            params = sum(p.numel() for p in fn.parameters()) if isinstance(fn, nn.Module) else 0
            if name == "dat":
                params = sum(p.numel() for p in dat.parameters())
            if name.startswith("deform_conv"):
                params = sum(p.numel() for p in dconv.parameters())
            nbytes = 4 * (2 * x.numel() + params)
            base = base or r.median_s
            rows.append({
                "map": f"{H}x{W}",
                "mixer": name,
                "keys/query": {"global": H * W, "window": 49, "dat": ns}.get(kind, 9),
                "ms": round(r.median_s * 1e3, 2),
                "vs global": round(r.median_s / base, 3),
                "GFLOP": round(fl / 1e9, 3),
                "GFLOP/s": round(fl / r.median_s / 1e9, 2),
                "MB moved (min)": round(nbytes / 2**20, 2),
                "peak MB": round((r.peak_mem_bytes or 0) / 2**20, 1),
                "columns MB": round(4 * B * C * 9 * H * W / 2**20, 1) if kind == "deform_conv" else "",
                "device": device_label(device),
            })
    print(format_table(rows))
    print("FLOPs: multiply-add = 2 FLOPs; measured on", device_label(device))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
