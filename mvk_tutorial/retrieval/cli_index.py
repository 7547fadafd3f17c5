"""``mvk kis index`` and ``mvk kis search``: a FAISS index over frame embeddings.

    mvk kis index --embeddings DIR --out frames.faiss [--kind flat|ivf|ivfpq]
    mvk kis search --index frames.faiss --text "a sea turtle over sand" [-k 10]

Book: ch10, section "An interactive search box".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def index_handler(args: argparse.Namespace) -> int:
    from mvk_tutorial.retrieval.embed import load_cached
    from mvk_tutorial.retrieval.index import build_index

    emb, manifest = load_cached(Path(args.embeddings) / "image")
    index = build_index(
        emb,
        manifest["items"],
        kind=args.kind,
        nlist=args.nlist,
        pq_m=args.pq_m,
        nprobe=args.nprobe,
        source=json.dumps(
            {"embeddings": str(args.embeddings), "model": manifest.get("model"),
             "pretrained": manifest.get("pretrained")}
        ),
    )
    index.save(args.out)
    print(f"indexed {len(index)} frames ({args.kind}, D={index.dim}) -> {args.out}")
    return 0


def search_handler(args: argparse.Namespace) -> int:
    from mvk_tutorial.retrieval.clip import load_clip
    from mvk_tutorial.retrieval.index import load_index

    index = load_index(args.index)
    source = json.loads(index.source or "{}")
    model = args.model or source.get("model") or "clip_tiny_mvk"
    pretrained = args.pretrained or source.get("pretrained")
    bundle = load_clip(model, pretrained)
    q = bundle.encode_text([args.text])
    scores, ids = index.search(q, min(args.k, len(index)), nprobe=args.nprobe)
    for r, (s, i) in enumerate(zip(scores[0].tolist(), ids[0].tolist())):
        print(f"{r:3d}  {s:.4f}  {index.frame_paths[i]}")
    return 0


def register(groups) -> None:
    """Add ``kis index`` and ``kis search`` (see ``mvk_tutorial.cli``)."""
    p = groups["kis"].add_parser(
        "index", help="build a FAISS index of frame embeddings (for top-k search)"
    )
    p.add_argument("--embeddings", required=True, help="an output folder of `mvk kis embed`")
    p.add_argument("--out", required=True, help="index file to write (.faiss)")
    p.add_argument("--kind", default="flat", choices=["flat", "ivf", "ivfpq"],
                   help="flat: exact (default); ivf / ivfpq: approximate, for millions")
    p.add_argument("--nlist", type=int, default=None, help="IVF lists (default ~4 sqrt(N))")
    p.add_argument("--pq-m", type=int, default=16, help="PQ bytes per vector (ivfpq)")
    p.add_argument("--nprobe", type=int, default=16, help="IVF lists searched")
    p.set_defaults(func=index_handler)

    p = groups["kis"].add_parser("search", help="top-k frames for a text query")
    p.add_argument("--index", required=True, help="a .faiss file from `mvk kis index`")
    p.add_argument("--text", required=True, help="the query")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--nprobe", type=int, default=None, help="IVF lists searched")
    p.add_argument("--model", default=None, help="open_clip model (default: the index's)")
    p.add_argument("--pretrained", default=None, help="tag or checkpoint (default: the index's)")
    p.set_defaults(func=search_handler)
