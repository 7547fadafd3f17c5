"""Does the tiny CLIP's caption mix decide which query type ranks best? (ch10)

Trains ``clip_tiny_mvk`` with the package's own command, ``mvk train clip``, once per
caption mix (same seed, steps, batch and thread count as the shipped model), reads the
held-out KIS metrics each run writes into its sidecar, and prints a table: median rank,
recall@1 and recall@10 of every query type for every mix. The shipped model (default mix
expert 0.7 / automatic 0.2 / novice 0.1) is the expert-heavy row; its metrics are read
from its sidecar. With ``--json`` the table is also written as JSON (what ch10 shows).

    python benchmarks/clip_caption_mix.py --json benchmarks/results/clip_caption_mix.json

Each run takes about 4-5 minutes on one CPU thread (longer on a busy machine); the runs
are started in parallel, one thread each.

Book: ch10, section "Which captions did the model learn from?".
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIXES = {
    "automatic only": "automatic=1",
    "balanced": "expert=1,automatic=1,novice=1",
}
STEPS, THREADS = 1000, 1
ROW = re.compile(r"^\| (expert|automatic|novice) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$")


def read_sidecar(md: Path) -> dict:
    """The per-query-type rows of a ``mvk train clip`` sidecar."""
    out = {}
    for line in md.read_text().splitlines():
        m = ROW.match(line.strip())
        if m:
            out[m.group(1)] = {
                "median_rank": float(m.group(2)),
                "recall@1": float(m.group(3)),
                "recall@10": float(m.group(4)),
            }
    if len(out) != 3:
        raise ValueError(f"{md}: expected rows for expert, automatic and novice")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="also write the table here")
    args = ap.parse_args(argv)
    from mvk_tutorial.retrieval.clip import TINY_CLIP_WEIGHTS
    from mvk_tutorial.utils import atomic_write

    results = {
        "expert-heavy (shipped)": {
            "mix": "expert=0.7,automatic=0.2,novice=0.1",
            "command": f"mvk train clip --max-steps {STEPS} --threads {THREADS}",
            "metrics": read_sidecar(TINY_CLIP_WEIGHTS.with_suffix(".md")),
        }
    }
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        procs = {}
        for name, mix in MIXES.items():
            out = Path(tmp) / f"clip_{len(procs)}.pt"
            cmd = [sys.executable, "-m", "mvk_tutorial.cli", "train", "clip",
                   "--max-steps", str(STEPS), "--threads", str(THREADS),
                   "--caption-mix", mix, "--out", str(out)]
            procs[name] = (subprocess.Popen(cmd), out, mix)
        for name, (proc, out, mix) in procs.items():
            if proc.wait() != 0:
                raise SystemExit(f"{name}: mvk train clip failed (status {proc.returncode})")
            results[name] = {
                "mix": mix,
                "command": f"mvk train clip --max-steps {STEPS} --threads {THREADS} "
                f"--caption-mix {mix}",
                "metrics": read_sidecar(out.with_suffix(".md")),
            }
    print(f"device: cpu (1 thread per run); {time.perf_counter() - t0:.0f} s")
    print(f"{'caption mix':<24}{'query':>10}{'median rank':>13}{'R@1':>7}{'R@10':>7}")
    for name, r in results.items():
        for kind in ("automatic", "novice", "expert"):
            m = r["metrics"][kind]
            print(f"{name:<24}{kind:>10}{m['median_rank']:>13g}{m['recall@1']:>7.3f}"
                  f"{m['recall@10']:>7.3f}")
    if args.json:
        atomic_write(args.json, json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
