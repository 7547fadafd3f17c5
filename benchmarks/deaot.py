"""DeAOT inference speed at the DAVIS input size (481x849), per variant.

Per frame (after the reference frame), as the official evaluator times it: encoder,
propagation, decoding, upsampling to 480x854, softmax, arg-max and memory update.
Random weights (speed does not depend on them), 2 objects.

Implementations run on the same model, frame by frame in alternation so that all see
the same machine load:
- ``baseline``: the official pure-PyTorch formulation emulated by our code
  (``switches.official_paths``: short-term attention through a dense (h*w x h*w)
  matrix, conv -> frozen BN -> ReLU6 unfused, plain convolutions in the decoder,
  ``F.linear`` and ``torch.bmm``, ``torch.argmax``);
- ``official`` (with ``--official CHECKOUT``): the official engine itself, imported
  from a checkout of yoxu515/aot-benchmark kept outside this repository, with our
  model's weights loaded into it (strict);
- ``ours``: windowed short-term attention, BN folded into the convolutions, bias /
  ReLU6 / residual sums applied in the convolution's own pass (``vos/deaot/fused.py``),
  the linear layers and both attention products (Q K^T and A V) by oneDNN's inner
  product instead of the BLAS (MKL, which runs AVX2 kernels on AMD CPUs), ``max``
  instead of ``argmax`` for the labels.
The largest difference of the logits (relative to the largest logit) and whether the
labels are identical are printed as well.

Then, for ``ours``: a per-operator profile of one frame (``torch.profiler``, self CPU
time), the time per part of the network (encoder, propagation, decoder, the rest),
and a roofline line: FLOPs per frame (multiply-add = 2; ``torch.utils.flop_counter``
with the fused convolutions counted as convolutions), bytes read and written by the
operators (``mvk_tutorial.utils.traffic``, an upper bound on memory traffic), and the
matmul peak and copy bandwidth measured in the same run.

On a GPU (when present) it also times ours with CUDA events in fp32 and with AMP.

    python benchmarks/deaot.py [--variants deaot-t deaot-l] [--frames 8] [--threads 1]
        [--official CHECKOUT_OF_aot-benchmark]

``ms/frame`` is the median over frames, ``min ms/frame`` the fastest frame (closest to
an idle machine). ``cpu-s/frame`` is the process CPU time per frame summed over
threads: less sensitive than wall time to other processes on a shared machine; the
speed-ups are computed from it. Timings on a shared CPU are upper bounds; the load
average is printed.

Book: ch08, section "What changes on a GPU and with the real data".
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from mvk_tutorial.utils import format_table, measure_limits, roofline
from mvk_tutorial.utils.bench import MachineLimits, cpu_name
from mvk_tutorial.utils.traffic import TrafficCounter
from mvk_tutorial.vos.deaot import DeAOTEngine, build_deaot
from mvk_tutorial.vos.deaot.switches import official_paths
from mvk_tutorial.vos.inference.transforms import label_from_probs

H, W, OUT = 481, 849, (480, 854)
OFFICIAL_NAMES = {"deaot-t": "deaott", "deaot-s": "deaots", "deaot-b": "deaotb",
                  "deaot-l": "deaotl", "r50-deaot-l": "r50_deaotl"}


def _fused_conv_flops(x_shape, w_or_other, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of ``mkldnn::_convolution_pointwise`` (default and binary overloads)."""
    w_shape = w_or_other if len(args) < 11 else args[0]  # binary: (x, other, w, ...)
    return conv_flop_count(x_shape, w_shape, out_shape)


def _onednn_linear_flops(x_shape, w_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of ``mkldnn::_linear_pointwise``: x (..., K) times w (N, K)^T."""
    rows = 1
    for d in x_shape[:-1]:
        rows *= d
    return 2 * rows * x_shape[-1] * w_shape[0]


# keyed by the op packet: the counter looks overloads up through it
FLOP_MAPPING = {
    torch.ops.mkldnn._convolution_pointwise: _fused_conv_flops,
    torch.ops.mkldnn._linear_pointwise: _onednn_linear_flops,
}


def make_inputs(frames: int, device):
    g = torch.Generator().manual_seed(0)
    base = F.avg_pool2d(torch.randn(1, 3, H + 8, W + 8, generator=g), 9, 1)  # smooth
    xs = [torch.roll(base, 4 * t, dims=-1).to(device) for t in range(frames + 1)]
    mask = torch.zeros(1, 1, H, W, dtype=torch.long)
    mask[..., 100:300, 150:400], mask[..., 250:420, 500:760] = 1, 2
    return xs, mask.to(device)


def predict(engine: DeAOTEngine, x: torch.Tensor, fast_label: bool = True):
    """Logits at 480x854 and the label, as the official evaluator computes them."""
    logits = engine.propagate(x, OUT)  # (1, 3, 480, 854)
    prob = torch.softmax(logits, 1)
    label = label_from_probs(prob) if fast_label else prob.argmax(1, keepdim=True)
    return logits, label


def update(engine: DeAOTEngine, label: torch.Tensor) -> None:
    engine.update_memory(F.interpolate(label.float(), (H, W), mode="nearest").long())


def step(engine: DeAOTEngine, x: torch.Tensor, fast_label: bool = True):
    """One frame: predict, then store the frame with its own label."""
    logits, label = predict(engine, x, fast_label)
    update(engine, label)
    return logits, label


@contextlib.contextmanager
def _official_imports(root: Path):
    """The official modules importable (and its relative config paths valid)."""
    cwd = os.getcwd()
    sys.path.insert(0, str(root))
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.path.remove(str(root))


class OfficialRunner:
    """The official engine of a checkout, with our model's weights (strict load)."""

    def __init__(self, root: Path, name: str, model: torch.nn.Module):
        if name not in OFFICIAL_NAMES:
            raise SystemExit(f"--official: no official name for variant {name!r}")
        with _official_imports(root):
            from configs.pre_ytb_dav import EngineConfig
            from networks.engines import build_engine
            from networks.models import build_vos_model

            cfg = EngineConfig("benchmark", OFFICIAL_NAMES[name])
            self.model = build_vos_model(cfg.MODEL_VOS, cfg).eval()
            self.model.load_state_dict(model.state_dict(), strict=True)
            self.engine = build_engine(
                cfg.MODEL_ENGINE, phase="eval", aot_model=self.model, gpu_id=0,
                long_term_mem_gap=model.cfg.long_term_gap,
            )

    def add_reference(self, x, mask, n):
        self.engine.add_reference_frame(
            x.clone(), mask.float(), frame_step=0, obj_nums=n
        )

    def predict(self, x):
        self.engine.match_propogate_one_frame(x.clone())  # it must not touch x
        logits = self.engine.decode_current_logits(OUT)
        prob = torch.softmax(logits, dim=1)
        return logits, torch.argmax(prob, dim=1, keepdim=True)

    def update(self, label):
        self.engine.update_memory(F.interpolate(label.float(), (H, W), mode="nearest"))


def cpu_time_limits(n: int = 2048, copy_mib: int = 256) -> MachineLimits:
    """Matmul peak and copy bandwidth per CPU-second (process time, best of 5).

    The rows' ``cpu-s/frame`` is process time, so the roofline compares it with a peak
    measured the same way: on a shared machine wall-clock peaks drop with the load. The
    peak is the faster of PyTorch's two float32 matrix products, the BLAS one
    (``torch.matmul``, MKL) and oneDNN's inner product, which the package also calls
    (on an AMD EPYC with AVX2, oneDNN's is the faster one).
    """
    a, b = torch.randn(n, n), torch.randn(n, n)
    bt = b.t().contiguous()
    out = torch.empty(n, n)
    src = torch.randn(copy_mib * 2**20 // 4)
    dst = torch.empty_like(src)

    def best(fn) -> float:
        fn()
        ts = []
        for _ in range(5):
            c0 = time.process_time()
            fn()
            ts.append(time.process_time() - c0)
        return max(min(ts), 1e-9)

    blas = best(lambda: torch.matmul(a, b, out=out))
    linear = torch.ops.mkldnn._linear_pointwise
    onednn = best(lambda: linear(a, bt, None, "none", [], ""))
    return MachineLimits(
        device=f"{cpu_name()}, {torch.get_num_threads()} thread(s), per CPU-second",
        matmul_flops=2 * n**3 / min(blas, onednn),
        bandwidth=2 * src.numel() * 4 / best(lambda: dst.copy_(src)),
    )


def part_times(model, engine, x) -> dict[str, float]:
    """Seconds per part of the network for one frame (forward hooks)."""
    acc, start = {}, {}
    hooks = []
    for part in ("encoder", "LSTT", "decoder"):
        m = getattr(model, part)

        def pre(_m, _a, part=part):
            start[part] = time.perf_counter()

        def post(_m, _a, _o, part=part):
            acc[part] = acc.get(part, 0.0) + time.perf_counter() - start[part]

        hooks += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    t0 = time.perf_counter()
    step(engine, x)
    total = time.perf_counter() - t0
    for h in hooks:
        h.remove()
    acc["rest (upsampling, softmax, labels, ID bank, memory)"] = total - sum(acc.values())
    acc["total"] = total
    return acc


def op_table(engine, x, rows: int = 15) -> tuple[list[dict], float]:
    """The operators of one frame by self CPU time (torch.profiler)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step(engine, x)
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)  # microseconds
    out = [
        {
            "operator": e.key,
            "calls": e.count,
            "self ms": round(e.self_cpu_time_total / 1e3, 1),
            "% of frame": round(100 * e.self_cpu_time_total / total, 1),
        }
        for e in events[:rows]
    ]
    return out, total / 1e6


def cpu_rows(name: str, frames: int, official_root: Path | None, limits) -> list[dict]:
    with torch.inference_mode(False):  # ordinary parameters, as a loaded model has
        model = build_deaot(name)
    xs, mask = make_inputs(frames, torch.device("cpu"))
    impls = {}  # the first one is the reference of the differences
    if official_root is not None:
        impls["official"] = OfficialRunner(official_root, name, model)
    impls["baseline"] = DeAOTEngine(model)
    impls["ours"] = DeAOTEngine(model)
    times = {k: [] for k in impls}
    cpu = {k: [] for k in impls}
    diff = {k: 0.0 for k in impls}
    wrong = {k: 0 for k in impls}
    scale = 0.0
    ref = next(iter(impls))  # official if given, else baseline: runs first each frame
    for k, e in impls.items():
        with official_paths(model, k == "baseline"):
            e.add_reference(xs[0], mask, 2)
    for t in range(1, frames + 1):
        out = {}
        for k, e in impls.items():
            # every engine stores the reference's label, so that all memories hold the
            # same masks and a near-tie pixel cannot make the videos drift apart
            with official_paths(model, k == "baseline"):
                t0, c0 = time.perf_counter(), time.process_time()
                if k == "official":
                    out[k] = e.predict(xs[t])
                else:
                    out[k] = predict(e, xs[t], k == "ours")
                label = out[ref][1]
                e.update(label) if k == "official" else update(e, label)
                times[k].append(time.perf_counter() - t0)
                cpu[k].append(time.process_time() - c0)
        # the official engine returns all 11 channels (unused ids at -1e10)
        out = {k: (lg[:, :3], lb) for k, (lg, lb) in out.items()}
        ref_logits, ref_label = out[ref]
        scale = max(scale, ref_logits.abs().max().item())
        for k, (logits, label) in out.items():
            diff[k] = max(diff[k], (logits - ref_logits).abs().max().item())
            wrong[k] += int((label.long() != ref_label.long()).sum())
    rows = []
    counted = {}
    for k, e in impls.items():
        if k == "official":  # the same network and formulation as the baseline
            continue
        with official_paths(model, k == "baseline"):
            with FlopCounterMode(display=False, custom_mapping=FLOP_MAPPING) as fc:
                with TrafficCounter() as tc:
                    step(e, xs[1], k == "ours")
        counted[k] = (fc.get_total_flops(), tc.bytes)
    if "official" in impls:
        counted["official"] = counted["baseline"]
    for k in impls:
        med = statistics.median(times[k])
        rows.append(
            {
                "variant": name,
                "impl": k,
                "device": "cpu",
                "ms/frame": round(1000 * med, 1),
                "fps": round(1 / med, 2),
                "min ms/frame": round(1000 * min(times[k]), 1),
                "cpu-s/frame": round(statistics.median(cpu[k]), 3),
                "GFLOP/frame": round(counted[k][0] / 1e9, 1),
                "GB moved/frame": round(counted[k][1] / 1e9, 2),
                f"max|diff| vs {ref}": f"{diff[k] / scale:.1e}",
                f"label pixels != {ref}": f"{wrong[k]} of {frames * OUT[0] * OUT[1]}",
            }
        )
    ours = rows[-1]
    for r in rows[:-1]:
        ours[f"speed-up vs {r['impl']} (cpu-s)"] = (
            f"{r['cpu-s/frame'] / ours['cpu-s/frame']:.2f}x"
        )
        ours[f"speed-up vs {r['impl']} (min ms)"] = (
            f"{r['min ms/frame'] / ours['min ms/frame']:.2f}x"
        )
    engine = impls["ours"]
    flops, moved = counted["ours"]
    ours["roofline"] = roofline(
        f"{name} ours per frame", flops, moved, statistics.median(cpu["ours"]), limits
    )
    ours["parts"] = part_times(model, engine, xs[2 % len(xs)])
    ours["ops"] = op_table(engine, xs[3 % len(xs)])
    return rows


def cuda_rows(name: str, frames: int) -> list[dict]:
    device = torch.device("cuda")
    with torch.inference_mode(False):
        model = build_deaot(name).to(device)
    xs, mask = make_inputs(frames, device)
    rows = []
    peaks = {False: measure_limits(device), True: measure_limits(device, dtype=torch.float16)}
    for amp in (False, True):
        engine = DeAOTEngine(model)
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            engine.add_reference(xs[0], mask, 2)
            for x in xs[1:4]:  # warm-up (cuDNN autotuning)
                step(engine, x)
            engine = DeAOTEngine(model)
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
            with FlopCounterMode(display=False) as fc:
                step(engine, xs[1])
        med = statistics.median(times)
        rows.append(
            {
                "variant": name,
                "impl": "ours amp" if amp else "ours fp32",
                "device": torch.cuda.get_device_name(),
                "ms/frame": round(1000 * med, 2),
                "fps": round(1 / med, 1),
                "min ms/frame": round(1000 * min(times), 2),
                "GFLOP/frame": round(fc.get_total_flops() / 1e9, 1),
                "published fps (V100)": {"deaot-t": 63.5, "deaot-l": 28.5}.get(name, ""),
                "roofline": roofline(
                    f"{name} {'amp' if amp else 'fp32'} per frame",
                    fc.get_total_flops(), 0.0, med, peaks[amp],
                ),
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="+", default=["deaot-t", "deaot-l"])
    p.add_argument("--frames", type=int, default=8, help="frames after the reference")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-cpu", action="store_true", help="GPU only")
    p.add_argument("--official", type=Path, default=None, metavar="CHECKOUT",
                   help="a checkout of yoxu515/aot-benchmark: time its engine too")
    args = p.parse_args()
    if args.official is not None and not (args.official / "networks").is_dir():
        raise SystemExit(f"--official {args.official}: not an aot-benchmark checkout")
    torch.set_num_threads(args.threads)
    rows = []
    limits = None if args.no_cpu else cpu_time_limits()
    load0 = os.getloadavg()[0]
    with torch.inference_mode():
        for name in args.variants:
            if not args.no_cpu:
                rows += cpu_rows(name, args.frames, args.official, limits)
            if torch.cuda.is_available():
                rows += cuda_rows(name, max(args.frames, 20))
    print(
        f"DeAOT inference at {H}x{W} (output {OUT[0]}x{OUT[1]}), 2 objects, "
        f"{args.frames} frames after the reference, {args.threads} CPU thread(s) of "
        f"{cpu_name()}; "
        f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"(on {os.cpu_count()} cores)"
    )
    extra = {"roofline", "parts", "ops"}
    columns = list(dict.fromkeys(c for r in rows for c in r if c not in extra))
    print(format_table(rows, columns))
    if limits is not None:
        print(f"\nmeasured in this run (per CPU-second, as cpu-s/frame): matmul peak "
              f"{limits.matmul_flops / 1e9:.4g} GFLOP/s, copy bandwidth "
              f"{limits.bandwidth / 1e9:.3g} GB/s ({args.threads} thread(s)); bytes: what "
              f"the operators read and write, an upper bound on memory traffic")
    for r in rows:
        if "roofline" in r:
            print(r["roofline"])
    for r in rows:
        if "parts" in r:
            total = r["parts"]["total"]
            print(f"\n{r['variant']} ours: time per part of one frame (forward hooks)")
            print(format_table([
                {"part": k, "ms": round(1000 * v, 1), "%": round(100 * v / total, 1)}
                for k, v in r["parts"].items()
            ]))
        if "ops" in r:
            table, total = r["ops"]
            print(f"\n{r['variant']} ours: operators of one frame by self CPU time "
                  f"(torch.profiler, {1000 * total:.0f} ms profiled)")
            print(format_table(table))
    if not torch.cuda.is_available():
        print("(no CUDA device: GPU rows skipped)")


if __name__ == "__main__":
    main()
