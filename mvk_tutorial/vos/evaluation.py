"""Semi-supervised DAVIS evaluation of a folder of predicted masks (J&F).

Reproduces ``DAVISEvaluation(task="semi-supervised").evaluate`` and the tables of
``evaluation_method.py`` of the official davis2017-evaluation toolkit:

* the sequences are those of ``ImageSets/<year>/<set>.txt``, in file order;
* the objects of a sequence are ids 1..K, K = the largest id of the first annotation
  (255 = void is set to 0); ground-truth ids above K in later frames are no object;
* the first and the last frame are not scored, and their predictions are not read;
* a prediction with an id above K is an error; an id that never appears counts as an
  empty mask (J = F = 1 on frames where the object is absent, 0 where it is present);
* per object: mean, recall and decay of J and of F; the global numbers are plain means
  over all objects of all sequences, and J&F-Mean = (J-Mean + F-Mean) / 2.

With ``year="2016"`` (or ``single_object=True``) masks are binarised first, every
nonzero id being the one object: the DAVIS 2016 protocol, which aot-benchmark follows.
Sequences are independent, so ``workers > 1`` scores them in a process pool.

Book: ch07, section "From frames to J&F".
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mvk_tutorial.utils.paths import safe_component
from mvk_tutorial.vos.data import VOID_ID, list_annotations, list_sequences, read_mask
from mvk_tutorial.vos.metrics import (
    BOUND_TH,
    boundary_radius,
    db_statistics,
    disk,
    frame_scores,
)

GLOBAL_COLUMNS = (
    "J&F-Mean",
    "J-Mean",
    "J-Recall",
    "J-Decay",
    "F-Mean",
    "F-Recall",
    "F-Decay",
)


@dataclass
class SequenceScores:
    """Per-frame J and F of each object of one sequence: ``(K, T-2)`` float arrays."""

    name: str
    j: np.ndarray
    f: np.ndarray


@dataclass
class EvalResult:
    """Everything the official tables hold, at full precision.

    ``global_scores`` maps the column names of ``global_results-<set>.csv`` to values;
    ``per_object`` maps ``"<seq>_<id>"`` to ``(J-Mean, F-Mean)``; ``sequences`` keeps
    the per-frame scores.
    """

    global_scores: dict[str, float]
    per_object: dict[str, tuple[float, float]]
    sequences: list[SequenceScores] = field(default_factory=list)

    def to_json_dict(self) -> dict:
        """``{"global": {...}, "per_object": {"<seq>_<id>": [J, F]}}``."""
        return {
            "global": dict(self.global_scores),
            "per_object": {k: [v[0], v[1]] for k, v in self.per_object.items()},
        }


def _read_ground_truth(
    davis_root: Path, seq: str, single_object: bool = False
) -> tuple[np.ndarray, list[str]]:
    paths = list_annotations(davis_root, seq)
    masks = [read_mask(p) for p in paths]
    for p, m in zip(paths, masks):
        if m.shape != masks[0].shape:
            raise ValueError(
                f"sequence {seq!r}: annotation {p} is {m.shape[1]}x{m.shape[0]}, "
                f"the first one is {masks[0].shape[1]}x{masks[0].shape[0]}"
            )
    if len(masks) < 3:
        raise ValueError(
            f"sequence {seq!r}: {len(masks)} annotated frames in {paths[0].parent}; "
            "the first and last frames are not scored, so at least 3 are needed"
        )
    gt = np.stack(masks)  # (T, H, W) ids
    if single_object:  # DAVIS 2016: one object, every nonzero pixel (255 too)
        return (gt > 0).astype(np.uint8), [p.stem for p in paths]
    gt[gt == VOID_ID] = 0  # the semi-supervised task ignores the void label
    return gt, [p.stem for p in paths]


def _read_predictions(
    results: Path,
    seq: str,
    names: list[str],
    shape: tuple[int, int],
    num_objects: int,
    single_object: bool = False,
) -> np.ndarray:
    folder = results / seq
    if not folder.is_dir():
        raise FileNotFoundError(
            f"sequence {seq!r}: prediction folder {folder} is missing"
        )
    scored = names[1:-1]  # the first and last frames are not scored
    present = {p.stem for p in folder.glob("*.png")}
    missing = [n for n in scored if n not in present]
    if missing:
        raise FileNotFoundError(
            f"sequence {seq!r}: {len(missing)} of the {len(scored)} scored predictions "
            f"are missing in {folder}, e.g. {missing[0]}.png (expected one PNG per "
            f"annotated frame, named like Annotations/480p/{seq}/)"
        )
    extra = sorted(present - set(names))
    stale = [e for e in extra if e.startswith(".") and ".tmp" in e]
    if stale:  # left by a write that was killed (atomic_path's temporary names)
        warnings.warn(
            f"sequence {seq!r}: ignoring {len(stale)} temporary file(s) left by an "
            f"interrupted write in {folder}, e.g. {stale[0]}.png (safe to delete)",
            stacklevel=2,
        )
    extra = [e for e in extra if e not in stale]
    if extra:  # the official toolkit reads only the annotated frames' names
        warnings.warn(
            f"sequence {seq!r}: ignoring {len(extra)} PNG(s) in {folder} that match no "
            f"annotated frame, e.g. {extra[0]}.png (as the official toolkit does)",
            stacklevel=2,
        )
    pred = np.empty((len(scored), *shape), np.uint8)  # (T-2, H, W)
    for t, name in enumerate(scored):
        path = folder / f"{name}.png"
        mask = read_mask(path)
        if single_object:
            mask = (mask > 0).astype(np.uint8)
        if mask.shape != shape:
            raise ValueError(
                f"sequence {seq!r}: prediction {path} is {mask.shape[1]}x"
                f"{mask.shape[0]}, the annotations are {shape[1]}x{shape[0]}"
            )
        if int(mask.max()) > num_objects:
            raise ValueError(
                f"sequence {seq!r}, frame {name}: prediction {path} holds id "
                f"{int(mask.max())}, but the first annotation has only {num_objects} "
                "object(s)"
            )
        pred[t] = mask
    return pred


def evaluate_sequence(
    davis_root: str | os.PathLike,
    results: str | os.PathLike,
    seq: str,
    bound_th: float = BOUND_TH,
    single_object: bool = False,
) -> SequenceScores:
    """Per-frame J and F of every object of one sequence (frames 1..T-2).

    ``single_object`` is the DAVIS 2016 protocol: ground truth and prediction are
    binarised (every nonzero id is the one object).

    Book: ch07, section "From frames to J&F".
    """
    gt, names = _read_ground_truth(Path(davis_root), seq, single_object)
    num_objects = int(gt[0].max())
    gt = gt[1:-1]  # (T-2, H, W): the first and last frames are not scored
    pred = _read_predictions(
        Path(results), seq, names, gt.shape[1:], num_objects, single_object
    )
    kernel = disk(boundary_radius(gt.shape[1:], bound_th))
    j = np.empty((num_objects, len(gt)))  # (K, T-2)
    f = np.empty((num_objects, len(gt)))  # (K, T-2)
    for t in range(len(gt)):
        j[:, t], f[:, t] = frame_scores(gt[t], pred[t], num_objects, kernel)
    return SequenceScores(seq, j, f)


def _evaluate_one(args: tuple) -> SequenceScores:
    return evaluate_sequence(*args)


def summarize(scores: list[SequenceScores]) -> EvalResult:
    """Per-object statistics and the global table from per-frame scores.

    Book: ch07, section "From frames to J&F".
    """
    stats = {"J": [], "F": []}
    per_object = {}
    for s in scores:
        for i in range(len(s.j)):
            jm, jr, jd = db_statistics(s.j[i])
            fm, fr, fd = db_statistics(s.f[i])
            stats["J"].append((jm, jr, jd))
            stats["F"].append((fm, fr, fd))
            per_object[f"{s.name}_{i + 1}"] = (jm, fm)
    if not per_object:
        raise ValueError("evaluation: no object to score (every first mask is empty)")
    J, F = np.array(stats["J"]), np.array(stats["F"])  # (num objects, 3)
    values = [
        (np.mean(J[:, 0]) + np.mean(F[:, 0])) / 2.0,
        np.mean(J[:, 0]),
        np.mean(J[:, 1]),
        np.mean(J[:, 2]),
        np.mean(F[:, 0]),
        np.mean(F[:, 1]),
        np.mean(F[:, 2]),
    ]
    global_scores = {c: float(v) for c, v in zip(GLOBAL_COLUMNS, values)}
    return EvalResult(global_scores, per_object, list(scores))


def evaluate(
    davis_root: str | os.PathLike,
    results: str | os.PathLike,
    split: str = "val",
    year: str | int = "2017",
    workers: int = 1,
    bound_th: float = BOUND_TH,
    sequences: list[str] | None = None,
    single_object: bool | None = None,
    progress: bool = True,
) -> EvalResult:
    """Evaluate a results folder (``<results>/<seq>/<frame>.png``) against DAVIS.

    Args:
        davis_root: the DAVIS folder (``JPEGImages``, ``Annotations``, ``ImageSets``).
        results: folder with one sub-folder of palette PNGs per sequence.
        split, year: which ``ImageSets/<year>/<split>.txt`` lists the sequences.
        workers: processes scoring sequences in parallel (1 = in this process).
        sequences: evaluate these instead of the list file's sequences.
        single_object: binarise masks (the DAVIS 2016 protocol); default: only when
            ``year`` is 2016.
        progress: show a progress bar.

    Book: ch07, section "From frames to J&F".
    """
    root, results = Path(davis_root), Path(results)
    if not results.is_dir():
        raise FileNotFoundError(f"results folder {results} does not exist")
    if sequences is not None:
        seqs = [safe_component(s, "sequences argument", i + 1) for i, s in enumerate(sequences)]
    else:
        seqs = list_sequences(root, year, split)
    if single_object is None:
        single_object = str(year) == "2016"
    jobs = [(root, results, s, bound_th, single_object) for s in seqs]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            scores = list(_progress(pool.map(_evaluate_one, jobs), len(jobs), progress))
    else:
        scores = [_evaluate_one(j) for j in _progress(jobs, len(jobs), progress)]
    return summarize(scores)


def _progress(it, total: int, enabled: bool = True):
    from tqdm.auto import tqdm

    quiet = {} if enabled else {"disable": True}  # else TQDM_DISABLE decides
    return tqdm(it, total=total, desc="J&F", unit="seq", leave=False, **quiet)
