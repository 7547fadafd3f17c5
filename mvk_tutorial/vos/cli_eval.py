"""``mvk vos eval``: J&F of a results folder, with the official toolkit's tables.

    mvk vos eval --davis-root DAVIS --results RESULTS [--set val] [--year 2017]
                 [--json scores.json] [--workers 2]

Writes ``global_results-<set>.csv`` and ``per-sequence_results-<set>.csv`` into the
results folder (the official column names, three decimals, as
``evaluation_method.py`` writes them), prints both tables, and with ``--json`` writes
every number at full precision.

Book: ch07, section "From frames to J&F".
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def register(groups) -> None:
    """Add ``mvk vos eval`` to the ``mvk`` groups."""
    p = groups["vos"].add_parser(
        "eval",
        help="J&F of predicted masks on DAVIS (same numbers as davis2017-evaluation)",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--davis-root", required=True, type=Path, help="the DAVIS folder")
    p.add_argument(
        "--results",
        required=True,
        type=Path,
        help="folder of <sequence>/<frame>.png palette PNGs; the CSVs go here",
    )
    p.add_argument("--set", default="val", help="ImageSets/<year>/<set>.txt (val)")
    p.add_argument(
        "--year",
        default="2017",
        help="ImageSets year (2017); 2016 scores one binarised object per sequence",
    )
    p.add_argument("--json", type=Path, default=None, help="write full-precision JSON")
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes scoring sequences in parallel (default: min(2, CPUs))",
    )
    p.set_defaults(func=run_eval)


def _tables(result, set_name: str):
    import pandas as pd

    from mvk_tutorial.vos.evaluation import GLOBAL_COLUMNS

    table_g = pd.DataFrame(
        [[result.global_scores[c] for c in GLOBAL_COLUMNS]],
        columns=list(GLOBAL_COLUMNS),
    )
    table_seq = pd.DataFrame(
        [(k, j, f) for k, (j, f) in result.per_object.items()],
        columns=["Sequence", "J-Mean", "F-Mean"],
    )
    return table_g, table_seq


def check_writable(paths: list[Path]) -> None:
    """Fail before any work if one of the output files cannot be written.

    Each file must not be a folder, and its folder must accept a new file (tried by
    creating and removing a temporary one). Book: ch07, section "From frames to J&F".
    """
    import tempfile

    for path in paths:
        if path.is_dir():
            raise IsADirectoryError(
                f"{path}: is a folder; expected a file name for the results"
            )
        folder = path.parent
        if not folder.is_dir():
            raise FileNotFoundError(f"{path}: folder {folder} does not exist")
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".mvk-write-test-"):
                pass
        except OSError as err:
            raise PermissionError(
                f"{folder}: cannot write the results there ({err.strerror or err}); "
                "expected a writable folder"
            ) from None


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``mvk vos eval``."""
    from mvk_tutorial.utils import atomic_path, atomic_write
    from mvk_tutorial.vos.evaluation import evaluate

    if args.workers < 1:
        raise ValueError(f"--workers: expected at least 1, got {args.workers}")
    if not args.results.is_dir():
        raise FileNotFoundError(f"--results: folder {args.results} does not exist")
    outputs = [
        args.results / f"global_results-{args.set}.csv",
        args.results / f"per-sequence_results-{args.set}.csv",
    ]
    check_writable(outputs + ([args.json] if args.json is not None else []))
    result = evaluate(
        args.davis_root,
        args.results,
        split=args.set,
        year=args.year,
        workers=args.workers,
    )
    table_g, table_seq = _tables(result, args.set)
    for name, table in (
        (f"global_results-{args.set}.csv", table_g),
        (f"per-sequence_results-{args.set}.csv", table_seq),
    ):
        with atomic_path(args.results / name) as tmp:
            table.to_csv(tmp, index=False, float_format="%.3f")
    print(
        f"--------------------------- Global results for {args.set} ---------------------------\n"
    )
    print(table_g.to_string(index=False))
    print(f"\n---------- Per sequence results for {args.set} ----------\n")
    print(table_seq.to_string(index=False))
    print(f"\nCSV files written to {args.results}")
    if args.json is not None:
        atomic_write(args.json, json.dumps(result.to_json_dict(), indent=1) + "\n")
        print(f"Full-precision scores written to {args.json}")
    return 0
