"""KIS ranking speed at the MVK scale: rank_of_targets vs a bare matmul vs sort-per-query.

    .venv/bin/python benchmarks/kis.py [--queries 4000 --frames 43797 --dim 512]

Random float32 embeddings (4,000 queries x 43,797 frames x 512-d, the MVK scale). Three
ways to get the 0-based rank of each query's target frame:

- ``matmul``: a bare ``torch.matmul(Q, X.T)`` of the same shapes (the lower bound: it
  only computes the scores, and keeps the whole 4000 x 43,797 matrix, ~700 MB); on a
  CPU also the same product by oneDNN's inner product, which ``rank_of_targets`` calls
  there (on AMD CPUs about 2x the BLAS, MKL, which runs AVX2 kernels); the ratio is
  taken against the faster of the two;
- ``rank_of_targets``: the tiled kernel (``mvk_tutorial.retrieval.tiled_rank``): tiles
  of 512 queries x 2048 frames counted while they are still in cache;
- ``64 MiB blocks``: the previous version, kept here as a baseline: blocks of queries
  against all frames (64 MiB of scores), compared after they went to memory;
- ``naive``: what the official KIS.py does (cosine per frame in numpy float64, Python's
  ``sorted`` of the whole collection, then a search for the target), timed on a subset
  of queries and extrapolated linearly to all queries.

FLOPs: one multiply-add = 2 FLOPs, so the score matrix costs 2 * M * N * D FLOPs; the
bytes that must move are the two embedding matrices, 4 (M + N) D (the scores need not
leave the cache). The roofline lines compare with the matmul peak and the copy
bandwidth measured in the same run (``mvk_tutorial.utils.measure_limits``).
Book: ch10 "Known-item search" (section "Ranking without sorting").
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mvk_tutorial.retrieval.kis import _ranks_in_block, _count_buffer, rank_of_targets
from mvk_tutorial.utils import benchmark, format_table, get_device, measure_limits, roofline
from mvk_tutorial.utils.bench import device_label
from mvk_tutorial.utils.onednn import matmul_nt


def block_ranks(Q: torch.Tensor, X: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The previous rank_of_targets: 64 MiB blocks of scores, counted from memory."""
    rows = max(1, 64 * 2**20 // (X.shape[0] * 4))
    out = torch.empty(Q.shape[0], dtype=torch.long, device=Q.device)
    buf = torch.empty(rows, X.shape[0], device=Q.device)
    fbuf = _count_buffer(rows, X.shape[0], Q.device)
    for s in range(0, Q.shape[0], rows):
        S = torch.matmul(Q[s : s + rows], X.T, out=buf[: Q[s : s + rows].shape[0]])
        out[s : s + rows] = _ranks_in_block(S, t[s : s + rows].to(Q.device), fbuf)
    return out


def naive_ranks(Q: np.ndarray, X: np.ndarray, targets: np.ndarray) -> list[int]:
    """KIS.py's loop: score every frame, sort the whole collection, find the target."""
    ranks = []
    norms = [np.linalg.norm(x) for x in X]
    for q, t in zip(Q, targets):
        nq = np.linalg.norm(q)
        scores = [float(np.dot(x, q) / (nx * nq)) for x, nx in zip(X, norms)]
        order = sorted(range(len(X)), key=lambda j: scores[j], reverse=True)
        ranks.append(order.index(int(t)))
    return ranks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=4000)
    ap.add_argument("--frames", type=int, default=43797)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--naive-queries", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = get_device()
    g = torch.Generator().manual_seed(0)
    M, N, D = args.queries, args.frames, args.dim
    Q = torch.nn.functional.normalize(torch.randn(M, D, generator=g), dim=1)
    X = torch.nn.functional.normalize(torch.randn(N, D, generator=g), dim=1)
    t = torch.randint(0, N, (M,), generator=g)
    Qd, Xd = Q.to(device), X.to(device)
    flops = 2 * M * N * D
    print(
        f"device: {device_label(device)}; "
        f"{M} queries x {N} frames x {D}-d float32; score matrix = {flops / 1e9:.1f} GFLOP"
    )

    limits = measure_limits(device)
    # interleaved rounds, so that a busy neighbour slows every method alike
    mm_t, dnn_t, rk_t, bl_t, mem = [], [], [], [], {}
    cases = [("matmul", lambda: torch.matmul(Qd, Xd.T), mm_t)]
    onednn = device.type == "cpu" and torch.backends.mkldnn.is_available()
    if onednn:
        cases.append(("onednn", lambda: matmul_nt(Qd, Xd), dnn_t))  # the tiles' product
    cases += [
        ("rank", lambda: rank_of_targets(Qd, Xd, t), rk_t),
        ("blocks", lambda: block_ranks(Qd, Xd, t), bl_t),
    ]
    for _ in range(args.repeat):
        for name, fn, times in cases:
            r = benchmark(fn, name, device, 0, 1, measure_memory=name not in mem)
            times.append(r.median_s)
            mem.setdefault(name, r.peak_mem_bytes)
    blas = type("R", (), {"median_s": min(mm_t), "peak_mem_bytes": mem["matmul"]})
    mm = blas
    if onednn:
        dnn = type("R", (), {"median_s": min(dnn_t), "peak_mem_bytes": mem["onednn"]})
        mm = min(blas, dnn, key=lambda r: r.median_s)
    bare = "BLAS" if mm is blas else "oneDNN"
    rk = type("R", (), {"median_s": min(rk_t), "peak_mem_bytes": mem["rank"]})
    bl = type("R", (), {"median_s": min(bl_t), "peak_mem_bytes": mem["blocks"]})
    sub = slice(0, args.naive_queries)
    t0 = time.perf_counter()
    naive = naive_ranks(Q[sub].double().numpy(), X.double().numpy(), t[sub].numpy())
    naive_s = (time.perf_counter() - t0) / args.naive_queries * M
    exact = (
        naive
        == rank_of_targets(
            Q[sub].double(), X.double(), t[sub], similarity="cosine_official"
        ).tolist()
    )
    # float32 scores from differently shaped products can differ in the last bit, so a
    # frame within one ulp of its target may swap sides: count those queries
    diff = (rank_of_targets(Qd, Xd, t).cpu() - block_ranks(Qd, Xd, t).cpu()).abs()
    same = f"{int((diff > 0).sum())} of {M} ranks differ, by at most {int(diff.max())}"
    rows = []
    bare_rows = [("matmul (bare, BLAS)", blas.median_s, blas.peak_mem_bytes)]
    if onednn:
        bare_rows.append(("matmul (bare, oneDNN)", dnn.median_s, dnn.peak_mem_bytes))
    for name, sec, mem in bare_rows + [
        ("rank_of_targets (tiles in cache)", rk.median_s, rk.peak_mem_bytes),
        ("64 MiB blocks (previous)", bl.median_s, bl.peak_mem_bytes),
        (f"naive sort/query (x{M} from {args.naive_queries})", naive_s, None),
    ]:
        rows.append(
            {
                "method": name,
                "seconds": sec,
                "GFLOP/s": flops / sec / 1e9,
                "peak MB": "" if mem is None else round(mem / 2**20),
                f"vs matmul ({bare})": sec / mm.median_s,
            }
        )
    print(format_table(rows))
    print(
        f"rank_of_targets / fastest bare matmul ({bare}) = {rk.median_s / mm.median_s:.3f}x "
        f"(target <= 1.15x; {rk.median_s / blas.median_s:.3f}x the BLAS one); "
        f"64 MiB blocks / matmul = {bl.median_s / mm.median_s:.3f}x; "
        f"naive / rank_of_targets = {naive_s / rk.median_s:.0f}x (best of {args.repeat} "
        "interleaved rounds each)"
    )
    moved = 4 * (M + N) * D
    print(roofline(f"matmul (bare, {bare})", flops, moved + 4 * M * N, mm.median_s, limits))
    print(roofline("rank_of_targets", flops, moved, rk.median_s, limits))
    print(
        f"exact: naive (float64, official formula) == rank_of_targets on the subset: {exact}; "
        f"tiles vs 64 MiB blocks (float32 rounding of near-ties): {same}"
    )


if __name__ == "__main__":
    main()
