"""Known-item search (KIS): the rank of a target frame among all frames.

The MVK study (Truong et al., "Marine Video Kit", MMM 2023, arXiv 2209.11518; official
code github.com/quangtrungtruong/KIS_MVK, ``KIS.py``) measures text-to-image search as

> for each query vector, cosine similarity to every frame vector in the collection;
> frames sorted in descending order; the result is the 0-based position of the target.

The official script sorts the whole collection in Python once per query. The rank does
not need a sort: it is the number of frames that come before the target,

    rank = #{j : s_j > s_t} + #{j < t : s_j = s_t}

(a stable descending sort keeps equal scores in collection order). So one matrix product
per chunk of queries and two comparisons give exact ranks for thousands of queries.

Book: ch10, sections "Ranking without sorting, at the MVK scale",
"Beyond the paper: video-level ranks".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F

from mvk_tutorial.retrieval.tiled_rank import tiled_ranks

Similarity = Literal["cosine", "dot", "cosine_official"]

DEFAULT_CHUNK_BYTES = 64 * 2**20  # the score block of one chunk of queries: 64 MiB


def _check_inputs(
    query_emb: torch.Tensor,
    frame_emb: torch.Tensor,
    target_index: torch.Tensor,
    similarity: str = "dot",
) -> None:
    if query_emb.ndim != 2 or frame_emb.ndim != 2:
        raise ValueError(
            "query_emb and frame_emb: expected 2-D (num_queries, D) and (num_frames, D), "
            f"got shapes {tuple(query_emb.shape)} and {tuple(frame_emb.shape)}"
        )
    if query_emb.shape[1] != frame_emb.shape[1]:
        raise ValueError(
            f"embedding dimensions differ: query_emb has D={query_emb.shape[1]}, "
            f"frame_emb has D={frame_emb.shape[1]} (were they made by the same model?)"
        )
    if target_index.shape != (query_emb.shape[0],):
        raise ValueError(
            f"target_index: expected shape ({query_emb.shape[0]},) (one per query), "
            f"got {tuple(target_index.shape)}"
        )
    n = frame_emb.shape[0]
    bad = ((target_index < 0) | (target_index >= n)).nonzero().flatten()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(
            f"target_index[{i}] = {int(target_index[i])}: the target of query {i} is not "
            f"in the collection of {n} frames"
        )
    for name, x in (("query_emb", query_emb), ("frame_emb", frame_emb)):
        if not torch.isfinite(x).all():
            row = int((~torch.isfinite(x)).any(1).nonzero()[0])
            raise ValueError(f"{name}: row {row} contains NaN or inf")
        if similarity in ("cosine", "cosine_official"):
            zero = (x == 0).all(dim=1).nonzero().flatten()
            if zero.numel():  # 0 / 0: NaN scores would rank the target first
                raise ValueError(
                    f"{name}: row {int(zero[0])} is a zero vector; cosine similarity "
                    "is undefined for it (expected a non-zero embedding)"
                )


def _prepare(
    query_emb: torch.Tensor, frame_emb: torch.Tensor, similarity: Similarity
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Return (queries, frames, query norms, frame norms) for the chosen similarity."""
    if similarity == "cosine":  # normalise once: O((M + N) D), then plain dot products
        return F.normalize(query_emb, dim=1), F.normalize(frame_emb, dim=1), None, None
    if similarity == "dot":
        return query_emb, frame_emb, None, None
    if similarity == "cosine_official":  # KIS.py: dot(x, q) / (norm(x) * norm(q))
        return query_emb, frame_emb, query_emb.norm(dim=1), frame_emb.norm(dim=1)
    raise ValueError(
        f"similarity: expected 'cosine', 'dot' or 'cosine_official', got {similarity!r}"
    )


def _chunk_rows(
    num_queries: int, num_cols: int, elem_bytes: int, max_bytes: int
) -> int:
    return max(1, min(num_queries, max_bytes // max(1, num_cols * elem_bytes)))


def score_chunks(
    query_emb: torch.Tensor,
    frame_emb: torch.Tensor,
    *,
    similarity: Similarity = "cosine",
    chunk_size: int | None = None,
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    device: torch.device | str | None = None,
) -> Iterable[tuple[int, torch.Tensor]]:
    """Yield ``(start, S)`` with ``S = scores[start:start + m]`` of shape ``(m, num_frames)``.

    Only one block of at most ``max_chunk_bytes`` (or ``chunk_size`` rows) exists at a
    time; the block buffer is reused, so copy what you keep. Book: ch10.
    """
    device = torch.device(device) if device is not None else query_emb.device
    q, x, qn, xn = _prepare(query_emb.to(device), frame_emb.to(device), similarity)
    num_queries, num_frames = q.shape[0], x.shape[0]
    rows = chunk_size or _chunk_rows(
        num_queries, num_frames, x.element_size(), max_chunk_bytes
    )
    buf = torch.empty(min(rows, num_queries), num_frames, dtype=x.dtype, device=device)
    for start in range(0, num_queries, rows):
        qc = q[start : start + rows]  # (m, D)
        S = torch.matmul(qc, x.T, out=buf[: qc.shape[0]])  # (m, N)
        if qn is not None:
            S.div_(qn[start : start + rows, None] * xn[None, :])
        yield start, S


def _count(mask: torch.Tensor, fbuf: torch.Tensor) -> torch.Tensor:
    """Per row, the number of True entries of ``mask`` (m, N), as int64.

    On a CPU, summing a bool tensor along a row is ~10x slower than copying it into a
    float buffer and summing that (exact: counts stay below 2**24, or fbuf is float64).
    """
    if mask.device.type != "cpu":
        return mask.sum(1)
    return fbuf[: mask.shape[0]].copy_(mask).sum(1).long()


def _count_greater(
    S: torch.Tensor, s: torch.Tensor, fbuf: torch.Tensor
) -> torch.Tensor:
    return _count(S > s, fbuf)


def _count_equal(S: torch.Tensor, s: torch.Tensor, fbuf: torch.Tensor) -> torch.Tensor:
    return _count(S == s, fbuf)


def _ranks_in_block(
    S: torch.Tensor, t: torch.Tensor, fbuf: torch.Tensor
) -> torch.Tensor:
    """Stable-sort ranks of columns ``t`` (m,) within the score rows ``S`` (m, N)."""
    s_t = S.gather(1, t[:, None])  # (m, 1): the target's score from this very block
    ranks = _count_greater(S, s_t, fbuf)
    ties = _count_equal(S, s_t, fbuf) - 1  # other entries with exactly the same score
    for i in ties.nonzero().flatten().tolist():  # rare: fix up only the rows with ties
        ranks[i] += int((S[i, : t[i]] == s_t[i]).sum())
    return ranks


def _count_buffer(S_rows: int, num_cols: int, device: torch.device) -> torch.Tensor:
    dtype = torch.float32 if num_cols < 2**24 else torch.float64
    if device.type != "cpu":
        return torch.empty(0, device=device)
    return torch.empty(S_rows, num_cols, dtype=dtype)


def rank_of_targets(
    query_emb: torch.Tensor,
    frame_emb: torch.Tensor,
    target_index: torch.Tensor | Sequence[int],
    *,
    similarity: Similarity = "cosine",
    chunk_size: int | None = None,
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    device: torch.device | str | None = None,
    block_frames: int | None = None,
) -> torch.Tensor:
    """0-based rank of each query's target frame when frames are sorted by similarity.

    Args:
        query_emb: (M, D) text (or image) embeddings of the queries.
        frame_emb: (N, D) image embeddings of the collection.
        target_index: (M,) index in ``frame_emb`` of each query's target frame.
        similarity: ``"cosine"`` (default), ``"dot"`` (embeddings used as they are) or
            ``"cosine_official"`` (``dot / (|x| |q|)`` computed as KIS.py does).
        chunk_size / block_frames: the score matrix is computed in tiles of
            ``chunk_size`` queries x ``block_frames`` frames (defaults: 512 x 2048 on a
            CPU, a tile that stays in cache while it is compared; see
            ``mvk_tutorial.retrieval.tiled_rank``). ``max_chunk_bytes`` is accepted for
            compatibility and not used here: memory is bounded by a few tiles.
        device: where to compute (default: the device of ``query_emb``); on a GPU pass
            ``"cuda"``. The dtype of the inputs is kept (float64 for exact parity).

    Returns:
        (M,) int64 ranks on the device of ``query_emb``: the number of frames with a
        strictly higher score plus those with an equal score and a lower index (as a
        stable descending sort orders them). The target's score is read from the same
        kind of matrix-product tile as every score it is compared with, so the
        comparison is exact.

    Book: ch10, section "Ranking without sorting, at the MVK scale".
    """
    target_index = torch.as_tensor(target_index, dtype=torch.long)
    _check_inputs(query_emb, frame_emb, target_index.cpu(), similarity)
    out_device = query_emb.device
    device = torch.device(device) if device is not None else out_device
    q, x, qn, xn = _prepare(query_emb.to(device), frame_emb.to(device), similarity)
    ranks = tiled_ranks(
        q, x, target_index.to(device), qn, xn, block_q=chunk_size, block_f=block_frames
    )
    return ranks.to(out_device)


def video_rank_of_targets(
    query_emb: torch.Tensor,
    frame_emb: torch.Tensor,
    target_index: torch.Tensor | Sequence[int],
    video_index: torch.Tensor | Sequence[int],
    *,
    similarity: Similarity = "cosine",
    chunk_size: int | None = None,
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """0-based rank of the target's *video* when each video scores its best frame.

    An extension the MVK paper does not have: frames are grouped by ``video_index``
    (N,) (ids 0..V-1), a video's score is the maximum of its frames' scores (max
    pooling), and ties between videos are broken by video id.

    Book: ch10, section "Beyond the paper: video-level ranks".
    """
    target_index = torch.as_tensor(target_index, dtype=torch.long)
    video_index = torch.as_tensor(video_index, dtype=torch.long)
    _check_inputs(query_emb, frame_emb, target_index.cpu(), similarity)
    if video_index.shape != (frame_emb.shape[0],):
        raise ValueError(
            f"video_index: expected shape ({frame_emb.shape[0]},) (one per frame), "
            f"got {tuple(video_index.shape)}"
        )
    if video_index.numel() and int(video_index.min()) < 0:
        raise ValueError("video_index: expected ids >= 0")
    num_videos = int(video_index.max()) + 1 if video_index.numel() else 0
    target_video = video_index[target_index]  # (M,)
    ranks = torch.empty(query_emb.shape[0], dtype=torch.long, device=query_emb.device)
    fbuf = None
    for start, S in score_chunks(
        query_emb,
        frame_emb,
        similarity=similarity,
        chunk_size=chunk_size,
        max_chunk_bytes=max_chunk_bytes,
        device=device,
    ):
        m = S.shape[0]
        idx = video_index.to(S.device)[None, :].expand(m, -1)  # (m, N)
        V = torch.full((m, num_videos), float("-inf"), dtype=S.dtype, device=S.device)
        V.scatter_reduce_(1, idx, S, reduce="amax")  # (m, num_videos)
        if fbuf is None:
            fbuf = _count_buffer(m, num_videos, S.device)
        t = target_video[start : start + m].to(S.device)
        ranks[start : start + m] = _ranks_in_block(V, t, fbuf).to(ranks.device)
    return ranks


def found_within(
    ranks: torch.Tensor | Sequence[int], ks: Sequence[int]
) -> dict[int, float]:
    """Share of targets found within the top k (``rank < k``) for each k.

    The paper's reading "found in the top 2000" is ``found_within(ranks, [2000])``.
    Book: ch10 (section "How many targets are found in the top k").
    """
    ranks = torch.as_tensor(ranks)
    if ranks.numel() == 0:
        raise ValueError("ranks: expected at least one rank")
    return {int(k): float((ranks < k).double().mean()) for k in ks}


def rank_summary(ranks: torch.Tensor | Sequence[int]) -> dict[str, float]:
    """Median, mean and quartiles of the ranks (the numbers of a box plot). Book: ch10."""
    r = torch.as_tensor(ranks, dtype=torch.float64)
    if r.numel() == 0:
        raise ValueError("ranks: expected at least one rank")
    q = torch.quantile(r, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
    return {
        "q1": float(q[0]),
        "median": float(q[1]),
        "mean": float(r.mean()),
        "q3": float(q[2]),
        "max": float(r.max()),
    }


def sample_targets(num_frames: int, num_targets: int, seed: int = 0) -> torch.Tensor:
    """``num_targets`` distinct random frame indices (seeded), as in KIS.py's sampling.

    Book: ch10 (section "The task").
    """
    if not 0 < num_targets <= num_frames:
        raise ValueError(
            f"num_targets: expected 1..{num_frames} (the number of frames), got {num_targets}"
        )
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(num_frames, generator=g)[:num_targets]


#: The one query-type vocabulary of the package. "automatic" is a generated caption
#: (ClipCap in the MVK study), "novice" and "expert" are human descriptions.
QUERY_TYPES = ("automatic", "novice", "expert")
#: Other spellings found in files: the official KIS_MVK CSVs call the automatic
#: caption "clipcap".
QUERY_TYPE_ALIASES = {"clipcap": "automatic", "ClipCap": "automatic"}


def canonical_query_type(name: str) -> str:
    """``name`` in the package's vocabulary (``"clipcap"`` -> ``"automatic"``).

    Book: ch10, section "The task".
    """
    name = QUERY_TYPE_ALIASES.get(name, name)
    if name not in QUERY_TYPES:
        raise ValueError(
            f"query type {name!r}: expected one of {', '.join(QUERY_TYPES)} "
            f"(or {', '.join(QUERY_TYPE_ALIASES)})"
        )
    return name


def kis_experiment(
    queries: dict[str, tuple[torch.Tensor, torch.Tensor]],
    frame_emb: torch.Tensor,
    frame_paths: Sequence[str],
    *,
    similarity: Similarity = "cosine",
    video_index: torch.Tensor | Sequence[int] | None = None,
    texts: dict[str, Sequence[str]] | None = None,
    device: torch.device | str | None = None,
) -> list[dict]:
    """The KIS experiment: for each query type, the rank of every query's target.

    ``queries`` maps a query type (any spelling :func:`canonical_query_type` knows) to
    ``(query_emb (M, D), target_index (M,))``. Returns one row per query, in the order
    of ``queries``: ``{query_type, target, rank}`` plus ``video_rank`` when
    ``video_index`` is given and ``text`` when ``texts`` is. Every caller of the
    package (``mvk kis run`` on embeddings or on the official KIS_MVK files, the CLIP
    training's evaluation) runs this one function.

    Book: ch10, section "Ranks for 100 targets".
    """
    rows = []
    for given, (emb, targets) in queries.items():
        kind = canonical_query_type(given)
        targets = torch.as_tensor(targets, dtype=torch.long)
        kw = dict(similarity=similarity, device=device)
        ranks = rank_of_targets(emb, frame_emb, targets, **kw).cpu().tolist()
        vranks = (
            video_rank_of_targets(emb, frame_emb, targets, video_index, **kw).cpu().tolist()
            if video_index is not None
            else None
        )
        for j, (t, r) in enumerate(zip(targets.tolist(), ranks)):
            row = {"query_type": kind, "target": frame_paths[t], "rank": int(r)}
            if vranks is not None:
                row["video_rank"] = int(vranks[j])
            if texts is not None:
                row["text"] = texts[given][j]
            rows.append(row)
    return rows
