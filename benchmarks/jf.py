"""J&F evaluation speed: ``mvk_tutorial.vos.evaluation`` vs the official computation.

The official davis2017-evaluation toolkit is not installed here (it needs
scikit-image), so the baseline is ``mvk_tutorial.vos.official``: a step-by-step
transcription of the toolkit's code path (PIL reading into float64 arrays, one-hot
masks, and per object and frame ``db_eval_iou`` / ``f_measure`` with ``_seg2bmap`` and
``cv2.dilate`` by ``disk(r)``), with ``skimage.morphology.disk`` built from its
formula. Both run in this process on the same synthetic DAVIS-sized result set:
30 sequences of 480x854 palette PNGs, 70 frames, 2-3 objects (the annotations and
imperfect predictions of ``mvk_tutorial.vos.synthetic_davis``). The script checks
that both give the same numbers, then prints sequences per second and the ratio.

    python benchmarks/jf.py                       # the full DAVIS-sized set
    python benchmarks/jf.py --sequences 4 --frames 20   # a quick look

FLOPs are not reported: the work is integer counting, not multiply-adds.

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
from mvk_tutorial.vos import evaluation, official
from mvk_tutorial.vos.data import list_sequences
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
    return p.parse_args()


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


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
                )
            )
            print(f"wrote the synthetic set in {t_gen:.1f} s: {root}")
        davis, results = root / "DAVIS", root / "results"
        seqs = list_sequences(davis)
        n_base = (
            len(seqs) if args.baseline_sequences is None else args.baseline_sequences
        )
        base_seqs = seqs[:n_base]

        ref, t_off = _timed(
            lambda: official.evaluate(str(davis), str(results), base_seqs)
        )
        fast1, t_one = _timed(
            lambda: evaluation.evaluate(davis, results, sequences=base_seqs, workers=1)
        )
        diff = max(abs(fast1.global_scores[k] - v) for k, v in ref.items())
        print(f"max |ours - official| over the global numbers: {diff:.2e}")
        assert diff <= 1e-9, "the fast evaluation disagrees with the official path"
        fastn, t_pool = _timed(
            lambda: evaluation.evaluate(davis, results, workers=args.workers)
        )

        rows = [
            ("official path (transcription)", 1, n_base, t_off),
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
                "x official": round((n / t) / base_rate, 2),
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
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
