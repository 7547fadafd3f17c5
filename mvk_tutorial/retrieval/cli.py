"""Sub-commands of the ``mvk`` command for ``mvk_tutorial.retrieval``.

    mvk kis embed --root MVK_ROOT --out DIR [--model NAME --pretrained TAG|FILE]
    mvk kis run --kis-mvk-data DATA_DIR --out ranks.csv     (official KIS_MVK CSVs)
    mvk kis run --embeddings DIR --out ranks.csv            (a cache from `mvk kis embed`)
    mvk train clip [--preset book --max-steps 1000 [--seconds S] --out FILE]

Book: ch10, section "The task" (also ch00).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def _write_rows(rows: list[dict], out: str, columns: list[str]) -> None:
    import pandas as pd

    from mvk_tutorial.utils import atomic_path

    with atomic_path(out) as tmp:
        pd.DataFrame(rows, columns=columns).to_csv(tmp, index=False)


def _print_summary(rows: list[dict]) -> None:
    from mvk_tutorial.retrieval.kis import found_within, rank_summary
    from mvk_tutorial.utils import format_table

    table = []
    for q in dict.fromkeys(r["query_type"] for r in rows):
        ranks = [r["rank"] for r in rows if r["query_type"] == q]
        s, f = rank_summary(ranks), found_within(ranks, [10, 100])
        table.append(
            {
                "query_type": q,
                "n": len(ranks),
                "median": s["median"],
                "mean": round(s["mean"], 1),
                "top10": f[10],
                "top100": f[100],
            }
        )
    print(format_table(table))


def run_handler(args: argparse.Namespace) -> int:
    if bool(args.kis_mvk_data) == bool(args.embeddings):
        raise ValueError("give exactly one of --kis-mvk-data DIR or --embeddings DIR")
    if args.kis_mvk_data:
        from mvk_tutorial.retrieval.kis_mvk import read_kis_mvk, run_kis_mvk

        rows = run_kis_mvk(
            read_kis_mvk(args.kis_mvk_data, args.folder_order), device=args.device
        )
        _write_rows(rows, args.out, ["query_type", "target", "rank"])
    else:
        from mvk_tutorial.retrieval.collection import KisCache, run_kis

        types = tuple(args.query_types.split(","))
        rows = run_kis(
            KisCache.load(args.embeddings),
            args.num_targets,
            args.seed,
            types,
            device=args.device,
        )
        _write_rows(
            rows, args.out, ["query_type", "target", "rank", "video_rank", "text"]
        )
    _print_summary(rows)
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


def embed_handler(args: argparse.Namespace) -> int:
    import torch

    from mvk_tutorial.retrieval.clip import load_clip
    from mvk_tutorial.retrieval.collection import (
        CAPTIONS,
        list_selected_frames,
        read_queries,
    )
    from mvk_tutorial.retrieval.embed import embed_collection

    frames = list_selected_frames(args.root)
    qpath = args.queries or (Path(args.root) / CAPTIONS)
    queries = read_queries(qpath) if (args.queries or Path(qpath).is_file()) else []
    device = args.device
    if device is None:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    bundle = load_clip(args.model, args.pretrained, device=device)
    written = embed_collection(
        bundle,
        args.out,
        frames,
        [q["text"] for q in queries],
        {
            "query_type": [q["query_type"] for q in queries],
            "frame_path": [q["frame_path"] for q in queries],
        },
        batch_size=args.batch_size,
        num_workers=args.workers,
        shard_size=args.shard_size,
    )
    print(
        f"{len(frames)} frames, {len(queries)} queries; shards written now: {written}"
    )
    return 0


def train_handler(args: argparse.Namespace) -> int:
    from mvk_tutorial.retrieval.train_clip import train_clip_cli

    return train_clip_cli(args)


def register(groups) -> None:
    """Add this part's sub-commands to the ``mvk`` groups (see ``mvk_tutorial.cli``)."""
    p = groups["kis"].add_parser(
        "run", help="rank KIS targets (official CSVs or an embedding cache)"
    )
    p.add_argument(
        "--kis-mvk-data", help="a KIS_MVK data/ folder (official CSV layout)"
    )
    p.add_argument(
        "--folder-order",
        default="sorted",
        choices=["sorted", "listdir"],
        help="order of the collection folders (listdir: as KIS.py; matters only for ties)",
    )
    p.add_argument("--embeddings", help="an output folder of `mvk kis embed`")
    p.add_argument(
        "--out", required=True, help="CSV to write: query_type,target,rank,..."
    )
    p.add_argument("--num-targets", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--query-types", default="automatic,novice,expert")
    p.add_argument(
        "--device", default=None, help="cpu or cuda (default: where the data is)"
    )
    p.set_defaults(func=run_handler)

    p = groups["kis"].add_parser(
        "embed", help="CLIP embeddings of frames and queries (cached)"
    )
    p.add_argument("--root", required=True, help="MVK or MVK-mini root folder")
    p.add_argument("--out", required=True, help="cache folder (resumable)")
    p.add_argument("--model", default="clip_tiny_mvk", help="open_clip architecture")
    p.add_argument(
        "--pretrained", default=None, help="pretrained tag or checkpoint file"
    )
    p.add_argument("--queries", default=None, help="CSV frame_path,query_type,text")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--workers", type=int, default=2, help="DataLoader workers (OpenCV decoding)"
    )
    p.add_argument("--shard-size", type=int, default=1024)
    p.add_argument(
        "--device", default=None, help="default: cuda:$LOCAL_RANK if present, else cpu"
    )
    p.set_defaults(func=embed_handler)

    p = groups["train"].add_parser(
        "clip", help="train the tiny CLIP on MVK-mini (CPU, minutes)"
    )
    p.add_argument("--preset", default="book", help="MVK-mini preset to evaluate on (never trained on)")
    p.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="optional time budget (s); without it the run is reproducible",
    )
    p.add_argument("--max-steps", type=int, default=1000, help="step budget")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads (1 avoids oversubscription on a shared machine)",
    )
    p.add_argument(
        "--out", default=None, help="weights file (default: the shipped one)"
    )
    p.add_argument(
        "--caption-mix",
        default=None,
        help="caption styles of the training pairs, e.g. automatic=1 or "
        "expert=1,automatic=1,novice=1 (default expert=0.7,automatic=0.2,novice=0.1)",
    )
    p.set_defaults(func=train_handler)
