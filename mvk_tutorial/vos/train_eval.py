"""Scoring a trained VOS network on unseen MVK-mini videos, and exporting shipped weights.

``evaluate_model`` segments every sequence of a DAVIS-layout image set with the
package's DeAOT inference (``segment_video``: the official DAVIS pipeline), writes the
palette PNGs, and scores them with the DAVIS J&F code of chapter 7. ``export_weights``
writes the plain state_dict (float32, loadable with ``weights_only=True``) and a JSON +
markdown sidecar with the command, seed, data and the measured scores.

Book: ch08, section "Training DeAOT on MVK-mini".
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mvk_tutorial.utils import atomic_path, atomic_write
from mvk_tutorial.vos.data import list_sequences, load_sequence, write_mask
from mvk_tutorial.vos.deaot.segment import segment_video
from mvk_tutorial.vos.evaluation import evaluate


def evaluate_model(
    model,
    davis_root,
    split: str = "val",
    results_dir=None,
    max_long_edge: int | None = 1040,
    progress: bool = False,
    sequences: list[str] | None = None,
) -> dict:
    """J&F of ``model`` on ``<davis_root>/ImageSets/2017/<split>.txt``; returns
    ``{"global": {...}, "per_sequence": {seq: J&F}, "frames": n, "fps": f}``.

    Book: ch08, section "Training DeAOT on MVK-mini".
    """

    davis_root = Path(davis_root)
    model = model.eval()
    tmp = None
    if results_dir is None:
        tmp = tempfile.TemporaryDirectory()
        results_dir = tmp.name
    results_dir = Path(results_dir)
    names = sequences or list_sequences(davis_root, year="2017", split=split)
    frames_done, seconds = 0, 0.0
    for name in names:
        seq = load_sequence(davis_root, name)
        frames = seq.read_frames()  # (T, H, W, 3)
        first = seq.read_annotations()[0]
        t0 = time.perf_counter()
        masks = segment_video(model, list(frames), first, max_long_edge=max_long_edge)
        seconds += time.perf_counter() - t0
        frames_done += len(frames) - 1
        for p, m in zip(seq.frames, masks):
            write_mask(results_dir / name / f"{Path(p).stem}.png", m)
    res = evaluate(
        davis_root, results_dir, split=split, progress=progress, sequences=names
    )
    per_seq: dict[str, list] = {}
    for key, (j, f) in res.per_object.items():
        per_seq.setdefault(key.rsplit("_", 1)[0], []).append((j + f) / 2)
    out = {
        "global": res.global_scores,
        "per_sequence": {k: float(np.mean(v)) for k, v in per_seq.items()},
        "per_object": {k: [float(a), float(b)] for k, (a, b) in res.per_object.items()},
        "sequences": len(names),
        "frames": frames_done,
        "fps": frames_done / max(seconds, 1e-9),
    }
    if tmp is not None:
        tmp.cleanup()
    return out


def export_weights(model, path, sidecar: dict) -> Path:
    """Write ``model``'s float32 state_dict to ``path`` and ``sidecar`` beside it as
    ``.json`` and a short ``.md``. Book: ch08, section "Training DeAOT on MVK-mini"."""
    path = Path(path)
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    sidecar = dict(sidecar, file=path.name, bytes=path.stat().st_size)
    atomic_write(path.with_suffix(".json"), json.dumps(sidecar, indent=1) + "\n")
    g = sidecar.get("eval", {}).get("global", {})
    lines = [
        f"# {path.name}",
        "",
        f"- model: `{sidecar.get('model')}` ({sidecar.get('params')} parameters)",
        f"- command: `{sidecar.get('command')}`",
        f"- seed: {sidecar.get('seed')}; data: {sidecar.get('data')}",
        f"- training: {sidecar.get('train', {})}",
        f"- measured on {sidecar.get('eval_data')}: "
        + ", ".join(f"{k} {v:.3f}" for k, v in g.items()),
        "",
        "Written by `mvk train`; the numbers come from running it (see the .json).",
        "",
    ]
    atomic_write(path.with_suffix(".md"), "\n".join(lines))
    return path
