"""Train the tiny ViT / Swin / DAT classifiers of chapter 3 on MVK-mini.

The task, frames, split by video, augmentation and schedule are those of ``mvk train
vit`` (:mod:`mvk_tutorial.attention.train_vit`, whose data loading is reused); only the
model differs. Seeded and resumable: after every epoch a checkpoint
``<out>.partial.pt`` stores model, optimiser and **all** RNG states (the augmentation
generator, torch's global CPU generator, numpy and Python's ``random``), so a resumed run
gives the same weights as an uninterrupted one.

Book: ch03, section "Three tiny classifiers on MVK-mini".
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mvk_tutorial.attention.train_vit import _lr_at, augment, evaluate, normalize, prepare_data
from mvk_tutorial.attention.variants import KINDS, VariantClassifier, VariantConfig, save_variant


@dataclass(frozen=True)
class VariantTrainConfig:
    """Hyper-parameters of ``mvk train variants``. Book: ch03, section "Three tiny classifiers on MVK-mini"."""

    model: str = "dat"  # vit | swin | dat
    preset: str = "book"
    epochs: int = 8
    frame_stride: int = 2
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    seed: int = 0
    threads: int = 1
    stop_after: int = 0  # >0: stop after this many epochs (to test resuming)


def _rng_state(g: torch.Generator) -> dict:
    """Every RNG the run may touch, as tensors and plain types (``weights_only`` loads it)."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "generator": g.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": [torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
        "python": torch.tensor(random.getstate()[1], dtype=torch.int64),
    }


def _set_rng_state(g: torch.Generator, s: dict) -> None:
    g.set_state(s["generator"])
    torch.set_rng_state(s["torch"])
    keys, pos, has_gauss, gauss = s["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate((3, tuple(int(v) for v in s["python"].tolist()), None))


def fit_variant(
    model: VariantClassifier,
    x: Tensor,
    y: Tensor,
    cfg: VariantTrainConfig,
    mean: Tensor,
    std: Tensor,
    partial: Path | None = None,
    log=print,
) -> list[dict]:
    """AdamW + warm-up + cosine on images ``x`` in [0, 1]; resumable from ``partial``.

    Book: ch03, section "Three tiny classifiers on MVK-mini".
    """
    from mvk_tutorial.utils import atomic_path

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(cfg.seed)
    spe = math.ceil(len(x) / cfg.batch_size)
    total, warmup = cfg.epochs * spe, cfg.warmup_epochs * spe
    history, start = [], 0
    key = {k: v for k, v in asdict(cfg).items() if k != "stop_after"}
    if partial is not None and partial.is_file():
        state = torch.load(partial, map_location="cpu", weights_only=True)
        if state["train_config"] == key:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optim"])
            _set_rng_state(g, state["rng"])
            history, start = state["history"], state["epoch"]
            log(f"resuming from {partial.name} after epoch {start}")
    for epoch in range(start, cfg.epochs):
        if cfg.stop_after and epoch >= cfg.stop_after:
            log(f"stopping after epoch {epoch} (--stop-after)")
            break
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(x), generator=g)
        loss_sum = correct = 0.0
        for i in range(spe):
            idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            for group in opt.param_groups:
                group["lr"] = _lr_at(epoch * spe + i, total, warmup, cfg.lr)
            xb = augment(x[idx], g)
            logits = model((xb - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
            loss = F.cross_entropy(logits, y[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(-1) == y[idx]).sum().item()
        history.append({
            "epoch": epoch + 1,
            "loss": loss_sum / len(x),
            "train_acc_aug": correct / len(x),
            "seconds": round(time.perf_counter() - t0, 1),
        })
        log(f"{cfg.model} epoch {epoch + 1}/{cfg.epochs} loss {history[-1]['loss']:.3f}")
        if partial is not None:
            with atomic_path(partial) as tmp:
                torch.save({
                    "train_config": key,
                    "model": model.state_dict(),
                    "optim": opt.state_dict(),
                    "rng": _rng_state(g),
                    "history": history,
                    "epoch": epoch + 1,
                }, tmp)
    return history


def run_variant_training(
    cfg: VariantTrainConfig, out: Path, data_root: Path | None = None, command: str = "", log=print
) -> dict | None:
    """Train one classifier, evaluate on held-out videos, write ``out`` (.pt, .json, .md).

    Returns the metrics, or None when stopped early by ``stop_after``.

    Book: ch03, section "Three tiny classifiers on MVK-mini".
    """
    from mvk_tutorial.mvk.labels import load_manifest
    from mvk_tutorial.mvk.synthetic import ensure_mvk_mini
    from mvk_tutorial.utils import seed_everything

    if cfg.model not in KINDS:
        raise ValueError(f"--model {cfg.model!r}: expected one of {KINDS}")
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    root = Path(data_root) if data_root else ensure_mvk_mini(cfg.preset)
    manifest = load_manifest(root)
    vcfg = VariantConfig(kind=cfg.model)
    data = prepare_data(root, vcfg.img_size)
    if vcfg.num_classes != len(data["classes"]):
        raise ValueError(f"{cfg.model}: {vcfg.num_classes} classes, data has {len(data['classes'])}")
    x01 = data["images"].float() / 255.0
    x = normalize(data["images"], data["mean"], data["std"])
    y = data["labels"]
    tr, ho = data["train_idx"], data["held_idx"]
    tr = tr[data["df"]["frame_index"].to_numpy()[tr] % cfg.frame_stride == 0]
    model = VariantClassifier(vcfg)
    out = Path(out)
    partial = out.with_name(out.stem + ".partial.pt")
    history = fit_variant(model, x01[tr], y[tr], cfg, data["mean"], data["std"], partial, log)
    if len(history) < cfg.epochs:
        return None
    n_cls = len(data["classes"])
    train_m, held_m = evaluate(model, x[tr], y[tr], n_cls), evaluate(model, x[ho], y[ho], n_cls)
    seqs = data["df"]["seq"].to_numpy()
    metrics = {
        "train_accuracy": round(train_m["accuracy"], 4),
        "heldout_accuracy": round(held_m["accuracy"], 4),
        "majority_baseline": round(
            (y[ho] == torch.bincount(y[tr], minlength=n_cls).argmax()).float().mean().item(), 4
        ),
        "train_videos": len(set(seqs[tr])),
        "heldout_videos": len(set(seqs[ho])),
        "train_frames": len(tr),
        "heldout_frames": len(ho),
        "final_loss": round(history[-1]["loss"], 4),
        "params": sum(p.numel() for p in model.parameters()),
        "seconds_per_epoch": round(float(np.median([h["seconds"] for h in history])), 1),
        "minutes": round((time.perf_counter() - t0) / 60, 2),
    }
    data_info = {
        "preset": manifest.get("preset", cfg.preset),
        "generator_version": manifest.get("generator_version"),
        "seed": manifest.get("config", {}).get("seed"),
    }
    meta = {
        "command": command or f"mvk train variants --model {cfg.model}",
        "train_config": asdict(cfg),
        "data": data_info,
        "metrics": metrics,
        "classes": data["classes"],
        "mean": data["mean"].tolist(),
        "std": data["std"].tolist(),
        "confusion_heldout": held_m["confusion"].tolist(),
        "history": history,
        "torch": torch.__version__,
    }
    save_variant(out, model.eval(), meta)
    _write_md(out, cfg, vcfg, meta)
    partial.unlink(missing_ok=True)
    return metrics


def _write_md(out: Path, cfg, vcfg, meta) -> None:
    from mvk_tutorial.utils import atomic_write

    m, dinfo = meta["metrics"], meta["data"]
    rows = []
    conf = meta["confusion_heldout"]
    for c, name in enumerate(meta["classes"]):
        n = sum(conf[c])
        rows.append(f"| {name} | {n} | {conf[c][c] / n:.3f} |" if n else f"| {name} | 0 | - |")
    text = f"""# {out.stem}: tiny {cfg.model.upper()} classifier trained on MVK-mini (chapter 3)

Produced by the package's own training command (no notebook trains it):

```
{meta["command"]}
```

- Model: `VariantClassifier` {vcfg}; {m["params"]} parameters; file {out.stat().st_size / 2**20:.2f} MB.
- Task: the main class of a frame (class with most visible pixels), {len(meta["classes"])} classes.
- Data: MVK-mini preset `{dinfo["preset"]}` (generator version {dinfo["generator_version"]}, data
  seed {dinfo["seed"]}), frames resized to {vcfg.img_size}; split by video with the collection's
  own split: {m["train_videos"]} train videos ({m["train_frames"]} frames, 1 in {cfg.frame_stride}),
  {m["heldout_videos"]} held-out `val` videos ({m["heldout_frames"]} frames, never seen in training).
- Training: seed {cfg.seed}, {cfg.epochs} epochs, AdamW lr {cfg.lr}, weight decay {cfg.weight_decay},
  batch {cfg.batch_size}, {cfg.warmup_epochs} warm-up epoch(s) then cosine, label smoothing
  {cfg.label_smoothing}, flip / colour gain / 4 px shifts (as `mvk train vit`); {cfg.threads} CPU
  thread(s), torch {torch.__version__}, {m["seconds_per_epoch"]} s per epoch, {m["minutes"]} min in all
  (2-core CPU shared with other jobs).

## Final metrics

| metric | value |
|---|---|
| held-out accuracy (frames of unseen videos) | {m["heldout_accuracy"]:.3f} |
| majority-class baseline on the same frames | {m["majority_baseline"]:.3f} |
| training accuracy (no augmentation) | {m["train_accuracy"]:.3f} |
| final training loss (label-smoothed) | {m["final_loss"]:.3f} |

Held-out accuracy per true class:

| class | frames | accuracy |
|---|---|---|
""" + "\n".join(rows) + "\n"
    atomic_write(out.with_suffix(".md"), text)
