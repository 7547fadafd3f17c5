"""J&F evaluation speed: ``mvk_tutorial.vos.evaluation`` vs a baseline in the same run.

The baseline is the real official toolkit when you point the script at a checkout of
davis2017-evaluation (``--official PATH``; it needs scipy and scikit-image). Without
it, the baseline is ``mvk_tutorial.vos.plain_loop``, our own plain per-frame loop
(every object, every full frame, no cropping or batching), and the table says so. Both
run in this process on the same synthetic DAVIS-sized result set: 30 sequences of
480x854 palette PNGs, 70 frames, 2-3 objects (``mvk_tutorial.vos.synthetic_davis``).
The script checks that the numbers agree, then prints sequences per second and the
ratio.

    python benchmarks/jf.py                       # the full DAVIS-sized set
    python benchmarks/jf.py --sequences 4 --frames 20   # a quick look
    python benchmarks/jf.py --official ~/src/davis2017-evaluation

FLOPs are not reported: the work is integer counting, not multiply-adds. The floor is
measured instead, in the same run: the time to decode the PNGs alone (ground truth and
predictions, one process), which no evaluation can beat; the table gives each method's
time as a multiple of it and the decoded bytes per second.

Book: ch07 "Video object segmentation: task, data, metrics" (section "Evaluating").
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TQDM_DISABLE", "1")  # before tqdm is imported
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from mvk_tutorial.utils import format_table
from mvk_tutorial.vos import evaluation, plain_loop
from mvk_tutorial.vos.data import list_annotations, list_sequences, read_mask
from mvk_tutorial.vos.synthetic_davis import make_synthetic_davis


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sequences", type=int, default=30)
    p.add_argument("--frames", type=int, default=70)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=854)
    p.add_argument("--workers", type=int, default=2, help="processes for the pool run")
    p.add_argument(
        "--baseline-sequences",
        type=int,
        default=None,
        help="time the official path on the first N sequences only (default: all)",
    )
    p.add_argument("--data", type=Path, default=None, help="keep/reuse the data here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--official",
        type=Path,
        default=None,
        help="a checkout of davis2017-evaluation: time the real toolkit as baseline",
    )
    return p.parse_args()


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def official_baseline(checkout: Path):
    """A function (davis, results, sequences) -> global scores running the toolkit."""
    import sys

    if not (checkout / "davis2017" / "evaluation.py").is_file():
        raise SystemExit(f"--official {checkout}: no davis2017/evaluation.py there")
    sys.path.insert(0, str(checkout))
    from davis2017.evaluation import DAVISEvaluation

    def run(davis, results, seqs):
        res = DAVISEvaluation(
            str(davis), "semi-supervised", "val", sequences=seqs
        ).evaluate(str(results))
        J, F = res["J"], res["F"]
        vals = [(np.mean(J["M"]) + np.mean(F["M"])) / 2]
        vals += [np.mean(J[k]) for k in "MRD"] + [np.mean(F[k]) for k in "MRD"]
        return dict(zip(plain_loop.GLOBAL_KEYS, map(float, vals)))

    return run


def decode_floor(davis: Path, results: Path, seqs: list[str]) -> tuple[float, int]:
    """Seconds to decode every ground-truth and predicted PNG of ``seqs``, and bytes."""
    paths = []
    for s in seqs:
        gt = list_annotations(davis, s)
        paths += gt + [results / s / p.name for p in gt]
    t0 = time.perf_counter()
    nbytes = sum(read_mask(p).nbytes for p in paths)
    return time.perf_counter() - t0, nbytes


def main() -> None:
    args = _parse()
    tmp = None
    root = args.data
    if root is None:
        root = Path(tmp := tempfile.mkdtemp(prefix="jf_bench_"))
    try:
        if not (root / "DAVIS" / "ImageSets").is_dir():
            _, t_gen = _timed(
                lambda: make_synthetic_davis(
                    root,
                    num_sequences=args.sequences,
                    num_frames=args.frames,
                    size=(args.height, args.width),
                    min_objects=2,
                    max_objects=3,
                    seed=args.seed,
                    write_frames=args.official is not None,  # the toolkit wants JPEGs
                )
            )
            print(f"wrote the synthetic set in {t_gen:.1f} s: {root}")
        davis, results = root / "DAVIS", root / "results"
        seqs = list_sequences(davis)
        n_base = (
            len(seqs) if args.baseline_sequences is None else args.baseline_sequences
        )
        base_seqs = seqs[:n_base]

        if args.official is not None:
            base_name, base_fn = "official davis2017-evaluation", official_baseline(
                args.official
            )
        else:
            base_name, base_fn = "plain per-frame loop (ours)", plain_loop.evaluate
        ref, t_off = _timed(lambda: base_fn(davis, results, base_seqs))
        fast1, t_one = _timed(
            lambda: evaluation.evaluate(davis, results, sequences=base_seqs, workers=1)
        )
        diff = max(abs(fast1.global_scores[k] - v) for k, v in ref.items())
        print(f"max |ours - baseline| over the global numbers: {diff:.2e}")
        assert diff <= 1e-9, f"the fast evaluation disagrees with the {base_name}"
        fastn, t_pool = _timed(
            lambda: evaluation.evaluate(davis, results, workers=args.workers)
        )

        t_floor, nbytes = decode_floor(davis, results, base_seqs)
        rows = [
            ("floor: decode the PNGs only", 1, n_base, t_floor),
            (base_name, 1, n_base, t_off),
            ("mvk_tutorial.vos.evaluation", 1, n_base, t_one),
            ("mvk_tutorial.vos.evaluation", args.workers, len(seqs), t_pool),
        ]
        base_rate = n_base / t_off
        table = [
            {
                "method": name,
                "processes": procs,
                "sequences": n,
                "seconds": round(t, 2),
                "seq/s": round(n / t, 3),
                "x baseline": round((n / t) / base_rate, 2),
                "x floor (time)": round((t / n) / (t_floor / n_base), 2),
                "mask MB/s": round(nbytes * n / n_base / t / 1e6, 1),
            }
            for name, procs, n, t in rows
        ]
        print(
            f"device: CPU ({platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} logical cores, shared); data: {len(seqs)} sequences x "
            f"{args.frames} frames of {args.height}x{args.width}, 2-3 objects; "
            f"J&F-Mean {fastn.global_scores['J&F-Mean']:.4f}"
        )
        print(format_table(table))
        print(
            f"ours (1 process) = {t_one / t_floor:.2f}x the decode floor; "
            f"{(n_base / t_one) / base_rate:.2f}x the {base_name}"
        )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
