"""Exact target ranks at cache speed: score tiles are compared while they are in cache.

``rank_of_targets`` needs, for each query ``i`` with target ``t_i``, the number of
frames that a stable descending sort puts before the target:

    rank_i = #{j < t_i : s_ij >= s_it} + #{j > t_i : s_ij > s_it}

Scoring all frames of a chunk of queries at once writes a block of tens of MiB, far
larger than the caches, so the scores go to memory and are read back (twice: once for
"greater", once for "equal"). Here the product is cut into tiles of ``block_q`` queries
by ``block_f`` frames (4 MiB on a CPU); each tile is counted right after the matrix
product wrote it, while it is still in cache. Three ideas make one comparison
pass per tile enough:

1. Queries are processed in order of their target index, so the targets of one block
   of queries fall into a few neighbouring frame tiles ("target tiles").
2. Target tiles are scored first: each target's score is read from the very tile that
   holds it, so every score compared comes from the same kind of product call (every
   call has the same shape; the last tile is padded with zero frames, which are
   dropped before counting).
3. Outside the target tiles a frame is either before every target of the block or
   after every one, so ``>=`` or ``>`` applies to the whole tile; ``s >= x`` is
   ``s > nextafter(x, -inf)`` in floating point, so both are one ``gt`` pass written
   over the tile in place and one row sum. Inside a target tile the same holds for
   each row whose target lies in another tile; the rows whose target is in it count
   ``>`` over the whole tile and add the ties before their target, read first.

Book: ch10, section "Ranking without sorting, at the MVK scale".
"""

from __future__ import annotations

import torch

from mvk_tutorial.utils.onednn import cpu_inference, matmul_nt

#: Tile shape on a CPU: 512 x 2048 float32 = 4 MiB. Measured on the 2-core Xeon this book
#: is built on (1 thread, 4000 x 43,797 x 512): 512 x 2048 took 1.15x the bare matmul,
#: 512 x 1024 1.17x, 256 x 2048 1.24x, 256 x 1024 1.33x: bigger products run closer to
#: the matmul's own speed, and the tile still sits in a cache level close to the core.
CPU_BLOCK_Q, CPU_BLOCK_F = 512, 2048
#: On a GPU the product is fast and the comparison cheap; bigger tiles amortise launches.
GPU_BLOCK_Q, GPU_BLOCK_F = 1024, 16384


def _pad_rows(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """``x`` (n, D) with zero rows appended up to a multiple of ``multiple``."""
    extra = (-x.shape[0]) % multiple
    return torch.cat([x, x.new_zeros(extra, x.shape[1])]) if extra else x


def tiled_ranks(
    q: torch.Tensor,
    x: torch.Tensor,
    target: torch.Tensor,
    q_norm: torch.Tensor | None = None,
    x_norm: torch.Tensor | None = None,
    block_q: int | None = None,
    block_f: int | None = None,
) -> torch.Tensor:
    """Stable-descending-sort ranks of ``target`` (M,) among the scores ``q @ x.T``.

    ``q`` (M, D) and ``x`` (N, D) are already prepared for the similarity (normalised
    for cosine); with ``q_norm`` (M,) and ``x_norm`` (N,) the scores are divided by
    their product, as the official KIS formula does. All on one device. Returns (M,)
    int64 ranks on that device. Book: ch10, section "Ranking without sorting, at the MVK scale".
    """
    gpu = q.device.type != "cpu"
    bq = block_q or (GPU_BLOCK_Q if gpu else CPU_BLOCK_Q)
    bf = block_f or (GPU_BLOCK_F if gpu else CPU_BLOCK_F)
    M, N = q.shape[0], x.shape[0]
    bq, bf = max(1, min(bq, M)), max(1, min(bf, N))
    order = torch.argsort(target, stable=True)  # queries sorted by their target
    t_sorted = target[order]
    qp = _pad_rows(q[order], bq)  # (Mp, D): every product call has the same shape
    num_tiles = -(-N // bf)
    # frame tiles are views of x; only the last one is copied, padded with zero frames
    last = _pad_rows(x[(num_tiles - 1) * bf :], bf)  # (bf, D)
    qn = None if q_norm is None else _pad_rows(q_norm[order, None], bq)  # (Mp, 1)
    xn = None if x_norm is None else _pad_rows(x_norm[:, None], bf).T  # (1, Np)
    # float32 on a CPU without autograd: oneDNN's product (about 2x MKL's on AMD CPUs);
    # elsewhere torch.matmul into a reused tile that stays cached
    onednn = cpu_inference(q, x)
    tile = torch.empty(bq, bf, dtype=q.dtype, device=q.device)
    counts = torch.zeros(qp.shape[0], dtype=q.dtype, device=q.device)
    counts = counts.double() if N >= 2**24 else counts  # exact integer sums
    cols = torch.arange(bf, device=q.device)  # (bf,)
    inf = torch.tensor(float("inf"), dtype=q.dtype, device=q.device)
    for start in range(0, M, bq):
        m = min(bq, M - start)
        q_blk = qp[start : start + bq]  # (bq, D)
        t_blk = t_sorted[start : start + m]  # (m,) ascending
        first_t, last_t = int(t_blk[0]) // bf, int(t_blk[-1]) // bf

        def score(k: int, out: torch.Tensor) -> torch.Tensor:
            """Scores of this query block against frame tile ``k``: (bq, bf)."""
            xk = last if k == num_tiles - 1 else x[k * bf : (k + 1) * bf]  # (bf, D)
            if onednn:
                out = matmul_nt(q_blk, xk)  # a fresh tile (oneDNN has no out=)
            else:
                torch.matmul(q_blk, xk.T, out=out)
            if qn is not None:
                out.div_(qn[start : start + bq] * xn[:, k * bf : (k + 1) * bf])
            return out

        # 1-2. target tiles first: the target scores come from the tiles that hold them
        held = [score(k, tile.new_empty(bq, bf)) for k in range(first_t, last_t + 1)]
        s_t = q.new_full((bq, 1), float("inf"))  # padded query rows never count
        tile_of = torch.div(t_blk, bf, rounding_mode="floor") - first_t  # (m,)
        for j, S in enumerate(held):  # each target's score, from the tile holding it
            rows = (tile_of == j).nonzero().flatten()
            s_t[rows, 0] = S[rows, t_blk[rows] - (first_t + j) * bf]
        s_ge = torch.nextafter(s_t, -inf)  # s > s_ge  <=>  s >= s_t
        c = counts[start : start + bq]
        # target tile of each row (-1 for padding rows, whose threshold is +inf)
        t_tile = torch.cat([tile_of + first_t, tile_of.new_full((bq - m,), -1)])
        for k, S in zip(range(first_t, last_t + 1), held):
            valid = min(bf, N - k * bf)
            S = S[:, :valid]
            # rows whose target lies in this tile count ">" everywhere, plus the ties
            # before their target (counted with ">=" there); read before S is overwritten
            rows = (t_tile == k).nonzero().flatten()
            if rows.numel():
                local = t_blk[rows] - k * bf  # (r,) column of each row's target
                ties = (S[rows] == s_t[rows]) & (cols[None, :valid] < local[:, None])
                c[rows] += ties.sum(1).to(c.dtype)
            # other rows: the whole tile is before (>=) or after (>) their target
            thr = torch.where(t_tile[:, None] > k, s_ge, s_t)  # (bq, 1)
            torch.gt(S, thr, out=S)
            c += S.sum(1).to(c.dtype)
        # 3. every other tile: one threshold per row, one in-place pass, one row sum
        for k in range(num_tiles):
            if first_t <= k <= last_t:
                continue
            valid = min(bf, N - k * bf)
            S = score(k, tile)[:, :valid]
            thr = s_ge if k < first_t else s_t  # all frames before / after the targets
            torch.gt(S, thr, out=S)  # 1.0 where the frame comes before the target
            c += S.sum(1).to(c.dtype)
    ranks = torch.empty(M, dtype=torch.long, device=q.device)
    ranks[order] = counts[:M].long()
    return ranks
