"""Check for the J&F aggregation exercise of ch07.

``checks.jf_table(my_jf_table)``: from the per-frame J and F series of every object,
the seven numbers of the official global table (mean, recall, decay of J and F, and
J&F-Mean). The reference is the package's evaluator (``db_statistics`` per object,
then a plain mean over objects).

Book: ch07, section "Exercises".
"""

from __future__ import annotations

import numpy as np

from mvk_tutorial.checks.robust import as_float, call, fail
from mvk_tutorial.vos.evaluation import GLOBAL_COLUMNS
from mvk_tutorial.vos.metrics import db_statistics

_HINT = (
    "per object: mean, recall = share of frames with score > 0.5, decay = mean of the "
    "first quarter minus mean of the last quarter, with the quarter bounds "
    "ids = round(linspace(1, N, 5)) - 1 (halves rounded UP, not to even: "
    "np.floor(v + 0.5)) and quarter i = x[ids[i] : ids[i+1] + 1] "
    "(neighbouring quarters share a frame); then the plain mean over ALL objects; "
    "J&F-Mean = (J-Mean + F-Mean) / 2."
)


def _reference(j_list, f_list) -> dict:
    J = np.array([db_statistics(x) for x in j_list])  # (objects, 3)
    F = np.array([db_statistics(x) for x in f_list])
    vals = [(J[:, 0].mean() + F[:, 0].mean()) / 2, *J.mean(0), *F.mean(0)]
    return {c: float(v) for c, v in zip(GLOBAL_COLUMNS, vals)}


def _cases():
    rng = np.random.default_rng(7)
    drift = np.linspace(0.95, 0.35, 68)
    return [
        ("one object, constant 0.8 over 10 frames", [np.full(10, 0.8)], [np.full(10, 0.6)]),
        ("one object drifting from 0.95 to 0.35 over 68 frames", [drift], [drift[::-1].copy()]),
        (
            "three objects of 68, 23 and 7 frames (a plain mean over objects)",
            [drift, rng.random(23), rng.random(7)],
            [rng.random(68), rng.random(23), np.linspace(0, 1, 7)],
        ),
        (
            "scores exactly 0.5 do not count for the recall; 4 frames",
            [np.array([0.5, 0.5, 0.9, 0.1])],
            [np.array([0.51, 0.2, 0.5, 1.0])],
        ),
    ]


def jf_table(candidate) -> None:
    """Check ``candidate(j_per_object, f_per_object) -> dict`` of the global J&F table.

    Arguments: two lists with one 1-D array per object (the frames to score, first and
    last already removed). Result: a dict with the keys ``J&F-Mean, J-Mean, J-Recall,
    J-Decay, F-Mean, F-Recall, F-Decay`` and float values.

    Book: ch07, section "Exercises".
    """
    name = "jf_table"
    cases = _cases()
    for i, (desc, js, fs) in enumerate(cases, 1):
        where = f"case {i}/{len(cases)} ({desc})"
        want = _reference(js, fs)
        got = call(name, candidate, _HINT, [x.copy() for x in js], [x.copy() for x in fs])
        if not isinstance(got, dict):
            raise fail(name, f"{where}: expected a dict, got {type(got).__name__}", _HINT)
        missing = [c for c in GLOBAL_COLUMNS if c not in got]
        if missing:
            raise fail(name, f"{where}: missing keys {missing}", _HINT)
        for col in GLOBAL_COLUMNS:
            value = as_float(name, got[col], f"{where}, {col}", _HINT)
            if abs(value - want[col]) > 1e-9:
                raise fail(
                    name, f"{where}: {col} = {value:.6f}, expected {want[col]:.6f}", _HINT
                )
    print(f"PASSED {name}: {len(cases)}/{len(cases)} cases")
