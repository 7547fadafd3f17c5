"""The object-count study of chapter 8: J&F of the shipped VOS models as objects grow.

Makes MVK-mini videos with exactly 1, 3, 6, 10 and 15 objects (``vos/object_count.py``:
the generator's scenes and renderer, every object visible in frame 0, a generator
stream of its own), segments them with each shipped model through the official
evaluation pipeline and scores them with chapter 7's J&F. Beyond 10 objects the engine
runs a second group of identities (DeAOT's ``max_obj_num`` is 10), which costs a second
pass through the GPM stack and the decoder: the frames/s column shows it. The baseline
is the 1-object J&F of the same model in the same run (the ratio column).

    python benchmarks/vos_object_count.py [--models deaot-mini] [--videos 2]
        [--frames 24] [--weights deaot-mini=PATH] [--out benchmarks/results/vos_object_count.json]

Book: ch08, section "How many objects?".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
import tempfile
from pathlib import Path

import torch

from mvk_tutorial.utils import atomic_write, format_table
from mvk_tutorial.vos.object_count import object_count_study, write_object_count_set
from mvk_tutorial.vos.shipped import load_shipped, shipped_weights
from mvk_tutorial.vos.train import build_model


def _same_tensors(a: Path, b: Path) -> bool:
    """Do two state_dict files hold the same tensors (compared as float32)?"""
    if not a.is_file() or not b.is_file():
        return False
    sa = torch.load(a, map_location="cpu", weights_only=True)
    sb = torch.load(b, map_location="cpu", weights_only=True)
    return sa.keys() == sb.keys() and all(
        torch.equal(sa[k].float(), sb[k].float()) for k in sa
    )


def _load_path(name: str, path: str | None) -> Path:
    return shipped_weights(name) if path is None else Path(path)


def _load(name: str, path: str | None):
    if path is None:
        return load_shipped(name), shipped_weights(name)
    model = build_model(name)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval(), Path(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["deaot-mini"])
    p.add_argument("--counts", nargs="+", type=int, default=[1, 3, 6, 10, 15])
    p.add_argument("--videos", type=int, default=2, help="videos per object count")
    p.add_argument("--frames", type=int, default=24, help="frames per video")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--weights", nargs="*", default=[], help="NAME=PATH (default: shipped)")
    p.add_argument("--out", default=None, help="write the results here as JSON")
    p.add_argument("--into-sidecar", action="store_true",
                   help="also record each model's results in the JSON sidecar beside its "
                   "weights (key object_count; chapter 8 reads it)")
    p.add_argument("--merge", default=None,
                   help="no evaluation: record the results of an earlier --out JSON in "
                   "the --sidecar files (after checking the weights are the same)")
    p.add_argument("--sidecar", nargs="*", default=[],
                   help="NAME=JSON: record NAME's results in this sidecar instead (its "
                   "weights file, beside it, must hold the same tensors as --weights)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    weights = dict(w.split("=", 1) for w in args.weights)
    if args.merge:  # results measured by an earlier run of this script
        done = json.loads(Path(args.merge).read_text("utf-8"))
        for key in ("videos", "frames", "seed", "threads"):
            setattr(args, key, done.get(key, getattr(args, key)))
        _record(args, weights, done["models"], done["command"])
        return
    results, rows = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        root = write_object_count_set(tmp, args.counts, args.videos, args.seed, args.frames)
        for name in args.models:
            model, path = _load(name, weights.get(name))
            res = {}
            for n in args.counts:  # one count at a time, for its frames/s
                seqs = [f"obj{n:02d}_{v}" for v in range(args.videos)]
                r = object_count_study(model, root, sequences=seqs)
                res[n] = {"J&F": r["per_count"][n], "fps": r["fps"],
                          "per_sequence": r["per_sequence"]}
            base = res[args.counts[0]]["J&F"]
            for n, r in res.items():
                rows.append({"model": name, "objects": n, "J&F": round(r["J&F"], 3),
                             f"ratio vs {args.counts[0]}": round(r["J&F"] / max(base, 1e-9), 2),
                             "frames/s": round(r["fps"], 2),
                             "device": f"CPU, {args.threads} thread(s)"})
            results[name] = {
                "weights": path.name,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "per_count": {str(n): r for n, r in res.items()},
            }
    print(f"{args.videos} videos x {args.frames} frames per object count, 256x448, "
          f"MVK-mini generator (seed {args.seed}, object-count streams)")
    print(format_table(rows))
    if args.out:
        info = {"counts": args.counts, "videos": args.videos, "frames": args.frames,
                "seed": args.seed, "threads": args.threads,
                "device": f"CPU, {args.threads} thread(s)",
                "command": "python benchmarks/vos_object_count.py "
                + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                "models": results}
        atomic_write(Path(args.out), json.dumps(info, indent=1) + "\n")
    _record(args, weights, results, "python benchmarks/vos_object_count.py "
            + " ".join(shlex.quote(a) for a in sys.argv[1:]))


def _record(args, weights: dict, results: dict, command: str) -> None:
    """Write each model's results into its sidecar (``--into-sidecar``/``--sidecar``)."""
    sidecars = dict(sc.split("=", 1) for sc in args.sidecar)
    if args.into_sidecar or sidecars:
        for name, res in results.items():
            used = _load_path(name, weights.get(name))
            side_path = Path(sidecars[name]) if name in sidecars else used.with_suffix(".json")
            side = json.loads(side_path.read_text("utf-8"))
            described = side_path.with_name(side.get("file", "?"))
            if not _same_tensors(described, used):
                raise ValueError(f"{side_path}: its weights {described} are not the ones "
                                 f"scored ({used})")
            side["object_count"] = {
                "command": command,
                "weights_sha256": res["sha256"], "weights_file": res["weights"],
                "videos": args.videos,
                "frames": args.frames, "seed": args.seed,
                "device": f"CPU, {args.threads} thread(s)",
                "note": "MVK-mini videos with exactly N objects, all visible in frame 0 "
                "(vos/object_count.py), never used in training",
                "per_count": res["per_count"],
            }
            atomic_write(side_path, json.dumps(side, indent=1) + "\n")


if __name__ == "__main__":
    main()
