"""DeAOT inference speed at the DAVIS input size (481x849), per variant.

Per frame (after the reference frame), as the official evaluator times it: encoder,
propagation, decoding, upsampling to 480x854, softmax, argmax and memory update.
Random weights (speed does not depend on them), 2 objects.

Two implementations run on the same model, frame by frame in alternation so that both
see the same machine load:
- baseline: the official pure-PyTorch path (short-term attention through a dense
  (h*w x h*w) matrix, ``local_attention_dense``; conv -> frozen BN -> ReLU6 unfused);
- ours: windowed short-term attention and BN folded into the convolutions.
The maximum absolute difference of their logits is printed as well.

On a GPU (when present) it also times ours with CUDA events in fp32 and with AMP.

    python benchmarks/deaot.py [--variants deaot-t deaot-l] [--frames 8] [--threads 2]

``ms/frame`` is the median over frames, ``min ms/frame`` the fastest frame (closest to
an idle machine). ``cpu-s/frame`` is the process CPU time per frame summed over threads: less sensitive
than wall time to other processes on a shared machine. FLOPs count a multiply-add as 2 FLOPs (``torch.utils.flop_counter``: matmuls,
convolutions, attention). Timings on a shared CPU are upper bounds.

Book: ch08 "Memory-based VOS and DeAOT" (section "Speed").
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from mvk_tutorial.utils import format_table
from mvk_tutorial.vos.deaot import DeAOTEngine, build_deaot
from mvk_tutorial.vos.deaot.switches import official_paths

H, W, OUT = 481, 849, (480, 854)


def make_inputs(frames: int, device):
    g = torch.Generator().manual_seed(0)
    base = F.avg_pool2d(torch.randn(1, 3, H + 8, W + 8, generator=g), 9, 1)  # smooth
    xs = [torch.roll(base, 4 * t, dims=-1).to(device) for t in range(frames + 1)]
    mask = torch.zeros(1, 1, H, W, dtype=torch.long)
    mask[..., 100:300, 150:400], mask[..., 250:420, 500:760] = 1, 2
    return xs, mask.to(device)


def step(engine: DeAOTEngine, x: torch.Tensor) -> torch.Tensor:
    logits = engine.propagate(x, OUT)  # (1, 3, 480, 854)
    label = torch.softmax(logits, 1).argmax(1, keepdim=True)
    engine.update_memory(F.interpolate(label.float(), (H, W), mode="nearest").long())
    return logits


def cpu_rows(name: str, frames: int) -> list[dict]:
    model = build_deaot(name)
    xs, mask = make_inputs(frames, torch.device("cpu"))
    engines = {"baseline": DeAOTEngine(model), "ours": DeAOTEngine(model)}
    times = {k: [] for k in engines}
    cpu = {k: [] for k in engines}
    diff = scale = 0.0
    for k, e in engines.items():
        with official_paths(model, k == "baseline"):
            e.add_reference(xs[0], mask, 2)
    for t in range(1, frames + 1):
        out = {}
        for k, e in engines.items():
            with official_paths(model, k == "baseline"):
                t0, c0 = time.perf_counter(), time.process_time()
                out[k] = step(e, xs[t])
                times[k].append(time.perf_counter() - t0)
                cpu[k].append(time.process_time() - c0)
        diff = max(diff, (out["baseline"] - out["ours"]).abs().max().item())
        scale = max(scale, out["baseline"].abs().max().item())
    rows = []
    for k, e in engines.items():
        with official_paths(model, k == "baseline"), FlopCounterMode(display=False) as fc:
            step(e, xs[1])
        med = statistics.median(times[k])
        rows.append(
            {
                "variant": name,
                "impl": k,
                "device": "cpu",
                "ms/frame": round(1000 * med, 1),
                "fps": round(1 / med, 2),
                "min ms/frame": round(1000 * min(times[k]), 1),
                "cpu-s/frame": round(statistics.median(cpu[k]), 2),
                "GFLOP/frame": round(fc.get_total_flops() / 1e9, 1),
                "max|diff|/max|logit|": f"{diff / scale:.1e}",
            }
        )
    base, ours = rows[0]["ms/frame"], rows[1]["ms/frame"]
    rows[1]["speed-up"] = f"{base / ours:.2f}x"
    return rows


def cuda_rows(name: str, frames: int) -> list[dict]:
    device = torch.device("cuda")
    model = build_deaot(name).to(device)
    xs, mask = make_inputs(frames, device)
    rows = []
    for amp in (False, True):
        engine = DeAOTEngine(model)
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            engine.add_reference(xs[0], mask, 2)
            for x in xs[1:4]:  # warm-up (cuDNN autotuning)
                step(engine, x)
            engine.add_reference(xs[0], mask, 2)
            times = []
            for x in xs[1:]:
                start, end = (
                    torch.cuda.Event(enable_timing=True),
                    torch.cuda.Event(enable_timing=True),
                )
                start.record()
                step(engine, x)
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end) / 1000)
        med = statistics.median(times)
        rows.append(
            {
                "variant": name,
                "impl": "ours amp" if amp else "ours fp32",
                "device": torch.cuda.get_device_name(),
                "ms/frame": round(1000 * med, 2),
                "fps": round(1 / med, 1),
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="+", default=["deaot-t", "deaot-l"])
    p.add_argument("--frames", type=int, default=8, help="frames after the reference")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-cpu", action="store_true", help="GPU only")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with torch.inference_mode():
        for name in args.variants:
            if not args.no_cpu:
                rows += cpu_rows(name, args.frames)
            if torch.cuda.is_available():
                rows += cuda_rows(name, max(args.frames, 20))
    print(
        f"DeAOT inference at {H}x{W} (output {OUT[0]}x{OUT[1]}), 2 objects, "
        f"{args.frames} frames after the reference, {args.threads} CPU threads"
    )
    columns = list(dict.fromkeys(c for r in rows for c in r))
    print(format_table(rows, columns))
    if not torch.cuda.is_available():
        print("(no CUDA device: GPU rows skipped)")


if __name__ == "__main__":
    main()
