"""Top-10 search latency and recall@10 of the FAISS index kinds against exact search.

    python benchmarks/faiss_search.py [--sizes 43797 1000000 --dim 512 --threads 1]
        [--nlist-1m 1024 --train-per-list 64 --nprobes 16 64]

Random unit vectors (the hardest case for IVF: no clusters). For each collection size:
build time, top-10 latency per query (one query at a time, as the search box asks, and
a batch of 100), and recall@10 against the exact answer, for several ``nprobe``
(lists searched; recall grows with it, and so does the time) (``IndexFlatIP`` gives exactly
the brute-force top 10; the baseline row is a bare ``torch`` matmul + topk in the same
run). FLOPs of an exact query: 2 N D (multiply-add = 2); bytes: the N x D float32 matrix
is read once per query batch, which is the roofline floor of exact search. At a
million vectors the IVF indexes use ``--nlist-1m`` lists trained on
``--train-per-list`` vectors per list (k-means on all of them would take longer than
the rest of the benchmark together); random vectors have no clusters to find, so this
is the worst case for IVF recall.

Book: ch10, section "An interactive search box".
"""

from __future__ import annotations

import argparse
import os
import time

import faiss
import torch

from mvk_tutorial.retrieval.index import build_index
from mvk_tutorial.utils import format_table, measure_limits, roofline


def _time(fn, repeat: int = 5) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[43797, 1000000])
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--nlist-1m", type=int, default=1024,
                    help="IVF lists for collections of >= 500,000 vectors")
    ap.add_argument("--train-per-list", type=int, default=64)
    ap.add_argument("--nprobes", type=int, nargs="+", default=[16, 64])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    limits = measure_limits("cpu")
    print(f"device: cpu ({args.threads} threads), faiss {faiss.__version__}, D={args.dim}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for n in args.sizes:
        g = torch.Generator().manual_seed(0)
        x = torch.nn.functional.normalize(torch.randn(n, args.dim, generator=g), dim=1)
        q = torch.nn.functional.normalize(
            torch.randn(args.queries, args.dim, generator=g), dim=1
        )
        exact = (q @ x.T).topk(10, dim=1).indices
        base1 = _time(lambda: (x @ q[0]).topk(10), 3)
        base_b = _time(lambda: (q @ x.T).topk(10, dim=1), 1)
        rows = [{"index": "torch matmul+topk (baseline)", "build s": 0.0,
                 "ms/query (1)": base1 * 1e3, "ms/query (batch)": base_b / len(q) * 1e3,
                 "recall@10": 1.0, "vs baseline (1)": 1.0}]
        nlist = args.nlist_1m if n >= 500_000 else None
        for kind in ("flat", "ivf", "ivfpq"):
            kw = {} if kind == "flat" else {"nlist": nlist,
                                             "train_per_list": args.train_per_list}
            if kind == "ivfpq":
                kw["pq_m"] = 64
            t0 = time.perf_counter()
            index = build_index(x, kind=kind, **kw)
            build = time.perf_counter() - t0
            for nprobe in [None] if kind == "flat" else args.nprobes:
                opt = {} if nprobe is None else {"nprobe": nprobe}
                one = _time(lambda: index.search(q[:1], 10, **opt), 3)
                batch = _time(lambda: index.search(q, 10, **opt), 1)
                ids = index.search(q, 10, **opt)[1]
                recall = sum(
                    len(set(a.tolist()) & set(b.tolist())) for a, b in zip(ids, exact)
                ) / (10 * len(q))
                name = kind if nprobe is None else (
                    f"{kind} nlist={index.index.nlist} nprobe={nprobe}")
                rows.append({"index": name, "build s": build, "ms/query (1)": one * 1e3,
                             "ms/query (batch)": batch / len(q) * 1e3,
                             "recall@10": recall, "vs baseline (1)": one / base1})
            del index
        print(f"\nN = {n:,} frames")
        print(format_table(rows))
        flops, moved = 2 * n * args.dim, 4 * n * args.dim
        print(roofline("exact top-10, one query (flat)", flops, moved,
                       rows[1]["ms/query (1)"] / 1e3, limits))
        print(roofline(f"exact top-10, batch of {len(q)} (flat)", flops * len(q), moved,
                       rows[1]["ms/query (batch)"] * len(q) / 1e3, limits))


if __name__ == "__main__":
    main()
