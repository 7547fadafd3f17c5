"""Peak memory of DeAOT on a long video, with and without the long-term memory cap.

    python benchmarks/vos_memory.py                       # DeAOT-L, 480x854, 60 frames
    python benchmarks/vos_memory.py --frames 1000 --cap 10  # the full video (slow on CPU)

DeAOT-L adds a frame to long-term memory every 5 frames (``TEST_LONG_TERM_MEM_GAP``), so
without a cap its memory, and the cost of its long-term attention, grow linearly with
the video: the failure users report on long videos (aot-benchmark issues #29, #44).
``--cap N`` keeps at most N frames in long-term memory (reference frames always kept,
the oldest predicted frame dropped first).

Each setting runs in its own process (so that one run's freed memory does not hide the
next one's peak), through the session API (``VOSSession``) on a synthetic video of
moving noise with 2 objects; random weights (memory does not depend on them). Measured
per setting: peak resident memory (CPU RSS, sampled every millisecond by a thread) or
peak CUDA allocation on a GPU, the bytes held by the memory banks, time per frame, and
the FLOPs of the long-term attention of the last frame (a multiply-add = 2 FLOPs:
2*N*M*128 for Q K^T and 2*N*M*1024 for A V per layer, N query tokens, M memory tokens).

When ``--frames`` is below ``--target-frames`` (1,000 by default; CPU time is the
limit), the figures at the target length are EXTRAPOLATED, and the table says so: the
memory bank grows by exactly one frame of keys and values per long-term frame
(tokens x (128 + 1024) x 4 bytes x layers); the table prints that figure beside the
measured RSS growth per long-term frame, and the extrapolation uses the larger of the
two. With the cap, the RSS drift once the cap is reached (slope of the 10-frame maxima,
from at least 30 capped frames) is carried on to the target length as well; run enough
frames (150 or more) to see whether the capped memory has settled.

Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

import numpy as np


class SyntheticVideo:
    """A lazy (T, H, W, 3) uint8 video: a noise image moving 3 px per frame."""

    def __init__(self, T: int, H: int, W: int, seed: int = 0):
        self.T = T
        self.base = np.random.default_rng(seed).integers(0, 256, (H, W, 3), np.uint8)

    def __len__(self) -> int:
        return self.T

    def __getitem__(self, t: int) -> np.ndarray:
        if not 0 <= t < self.T:
            raise IndexError(t)
        return np.roll(self.base, 3 * t, axis=1)


def run_one(args) -> dict:
    """One setting in this process; returns the measurements."""
    import torch

    from mvk_tutorial.utils.bench import _rss_bytes, _RssSampler
    from mvk_tutorial.vos.deaot import build_deaot
    from mvk_tutorial.vos.inference import VOSSession

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = build_deaot(args.model).to(device).eval()
    H, W = args.size
    video = SyntheticVideo(args.frames, H, W)
    mask = np.zeros((H, W), np.uint8)
    mask[H // 5 : H // 2, W // 8 : W // 3] = 1
    mask[H // 2 : 4 * H // 5, W // 2 : 3 * W // 4] = 2
    session = VOSSession(model, max_long_term=args.one_cap)
    state = session.init_state(video)
    session.add_mask(state, 0, mask)
    rows = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base_cuda = torch.cuda.memory_allocated(device)
    rss0 = _rss_bytes()
    t0 = time.perf_counter()
    with _RssSampler() as sampler:
        for t, _, _ in session.propagate(state):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            now = time.perf_counter()
            bank = state.engine.groups[0]
            rows.append(
                {
                    "t": t,
                    "s": now - t0,
                    "rss": _rss_bytes(),
                    "bank": state.engine.memory_bytes(),
                    "lt_frames": bank.long_term_frames,
                }
            )
            t0 = now
    tokens = state.engine.groups[0].short_term[0].K.shape[0]
    layers = len(state.engine.groups[0].short_term)
    out = {
        "cap": args.one_cap,
        "rows": rows,
        "rss_start": rss0,
        "rss_peak": sampler.peak,
        "tokens": tokens,
        "layers": layers,
        "input_size": list(state.input_size),
        "long_term_gap": state.engine.long_term_gap,
    }
    if device.type == "cuda":
        out["cuda_peak"] = int(torch.cuda.max_memory_allocated(device) - base_cuda)
        out["device"] = f"cuda ({torch.cuda.get_device_name(device)})"
    else:
        out["device"] = (
            f"cpu ({platform.processor() or platform.machine()}, {args.threads} thread(s))"
        )
    return out


def lt_frames_at(T: int, gap: int, cap: int | None) -> int:
    """Long-term frames after frame T - 1 (one reference + every gap-th frame)."""
    n = 1 + (T - 1) // gap
    return n if cap is None else min(n, cap)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="deaot-l")
    p.add_argument("--size", type=int, nargs=2, default=[480, 854], metavar=("H", "W"))
    p.add_argument("--frames", type=int, default=60, help="frames measured per setting")
    p.add_argument("--target-frames", type=int, default=1000)
    p.add_argument("--cap", type=int, default=10, help="max_long_term of the capped run")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="also save the raw measurements here")
    p.add_argument("--one-cap", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return 0

    results = []
    for cap in (None, args.cap):
        cmd = [sys.executable, __file__, "--one", "--model", args.model, "--size",
               *map(str, args.size), "--frames", str(args.frames), "--threads",
               str(args.threads), "--device", args.device]
        if cap is not None:
            cmd += ["--one-cap", str(cap)]
        print(f"running cap={cap} ...", file=sys.stderr, flush=True)
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f)

    from mvk_tutorial.utils import format_table

    MB = 1e6
    r0 = results[0]
    frame_bytes = r0["tokens"] * (128 + 1024) * 4 * r0["layers"]  # one long-term frame
    gap = r0["long_term_gap"]
    print(f"device: {r0['device']}; model {args.model}, video {args.size[0]}x"
          f"{args.size[1]} -> input {r0['input_size'][0]}x{r0['input_size'][1]} "
          f"({r0['tokens']} tokens), long-term gap {gap}, 2 objects")
    print(f"one long-term frame = {r0['tokens']} tokens x (128 + 1024) x 4 B x "
          f"{r0['layers']} layers = {frame_bytes / MB:.1f} MB")
    rows = []
    for r in results:
        rs = r["rows"]
        lt = np.array([x["lt_frames"] for x in rs])
        rss = np.array([x["rss"] for x in rs], dtype=float)
        # measured RSS growth per long-term frame (least squares over the frames where
        # long-term memory grows), and the drift where it no longer grows (the cap)
        grow = lt < lt[-1]
        slope = np.polyfit(lt, rss, 1)[0] if lt.max() > lt.min() else float("nan")
        # drift: slope of the 10-frame maxima (RSS jumps by ~100 MB between frames as
        # the allocator reuses memory; a fit to every frame overstates the trend)
        flat = np.nonzero(~grow)[0]
        wins = [flat[i : i + 10] for i in range(0, len(flat) - 9, 10)]
        drift = 0.0
        if r["cap"] and len(wins) >= 3:
            drift = np.polyfit([w.mean() for w in wins], [rss[w].max() for w in wins], 1)[0]
        r["slope"], r["drift"] = float(slope), float(drift)
        M = lt[-1] * r["tokens"]
        flops = r["layers"] * 2 * r["tokens"] * M * (128 + 1024)
        secs = [x["s"] for x in rs[1:]]
        rows.append({
            "setting": "no cap" if r["cap"] is None else f"cap {r['cap']}",
            "frames": len(rs),
            "LT frames": int(lt[-1]),
            "bank MB": round(rs[-1]["bank"] / MB, 1),
            "peak RSS MB": round(r["rss_peak"] / MB, 1),
            "peak - start MB": round((r["rss_peak"] - r["rss_start"]) / MB, 1),
            "RSS growth MB/LT frame": round(slope / MB, 1),
            "RSS drift at cap MB/frame": round(drift / MB, 2) if r["cap"] else "",
            "s/frame first10": round(float(np.median(secs[:10])), 2),
            "s/frame last10": round(float(np.median(secs[-10:])), 2),
            "LT attn GFLOP/frame": round(flops / 1e9, 1),
            "GFLOP/s (LT attn)": round(flops / 1e9 / float(np.median(secs[-10:])), 1),
            **({"CUDA peak MB": round(r["cuda_peak"] / MB, 1)} if "cuda_peak" in r else {}),
        })
    print("\nmeasured")
    print(format_table(rows))
    from mvk_tutorial.utils import measure_limits, roofline

    limits = measure_limits("cuda" if "cuda" in str(r0["device"]).lower() else "cpu")
    print("\nroofline of the long-term attention of the last frames (FLOPs: q.k and "
          "attn.v; bytes: the long-term keys and values read once; time: the whole frame, "
          "so the percentages are lower bounds for the attention)")
    for r, row in zip(results, rows):
        print(roofline(f"{row['setting']}", 1e9 * row["LT attn GFLOP/frame"],
                       row["LT frames"] * frame_bytes, row["s/frame last10"], limits))

    T = args.target_frames
    label = "measured" if args.frames >= T else f"EXTRAPOLATED from {args.frames} frames"
    ext = []
    for r in results:
        lt_end = r["rows"][-1]["lt_frames"]
        lt_T = lt_frames_at(T, gap, r["cap"])
        # growth: the measured RSS per long-term frame (not below the analytic bytes);
        # at the cap, the measured drift per frame (if positive) carried on to T
        per_lt = max(r["slope"], frame_bytes) if np.isfinite(r["slope"]) else frame_bytes
        peak = r["rss_peak"] + (lt_T - lt_end) * per_lt
        peak += max(r["drift"], 0.0) * max(T - len(r["rows"]), 0)
        M = lt_T * r["tokens"]
        ext.append({
            "setting": "no cap" if r["cap"] is None else f"cap {r['cap']}",
            "frames": T,
            "LT frames": lt_T,
            "bank MB": round((lt_T + 1) * frame_bytes / MB, 1),
            "peak RSS MB": round(peak / MB, 1),
            "peak - start MB": round((peak - r["rss_start"]) / MB, 1),
            "LT attn GFLOP/frame": round(
                r["layers"] * 2 * r["tokens"] * M * (128 + 1024) / 1e9, 1),
            "how": label,
        })
    ext[1]["peak ratio"] = round(ext[1]["peak RSS MB"] / ext[0]["peak RSS MB"], 3)
    ext[0]["peak ratio"] = 1.0
    print(f"\nat {T} frames ({label}; bank = long-term + short-term frame)")
    print(format_table(ext))
    return 0


if __name__ == "__main__":
    sys.exit(main())
