"""Fine-tune the shipped tiny ViT (``vit_tiny_mvk``) into a tiny A-ViT on MVK-mini.

``mvk train avit`` runs :func:`run_training`: it loads ``vit_tiny_mvk.pt`` (the ch02
model), adds the halting rule (no new parameters), and trains with the task loss
plus the ponder loss and the distributional prior, on the same frames, labels and
video split as ``mvk train vit`` (:func:`mvk_tutorial.attention.train_vit.prepare_data`).
It is seeded and resumable: after every epoch ``<out>.partial.pt`` holds the model,
the optimiser and **all** RNG states (the data generator, torch's global generator
that drives dropout, numpy, python), so a resumed run equals an uninterrupted one.

Book: ch05, section "Fine-tuning the tiny ViT".
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mvk_tutorial.attention.avit import AViT, HaltingConfig, avit_from_vit, config_dict
from mvk_tutorial.attention.avit_train_config import AViTTrainConfig
from mvk_tutorial.utils import atomic_path
from mvk_tutorial.attention.vit import ViTConfig
from mvk_tutorial.attention.train_vit import (
    _lr_at, augment, class_weights, load_masks, paste_animals, prepare_data,
)  # fmt: skip
from mvk_tutorial.attention.vit import load_vit
from mvk_tutorial.mvk.labels import load_manifest
from mvk_tutorial.mvk.synthetic import ensure_mvk_mini
from mvk_tutorial.utils import seed_everything
from mvk_tutorial.utils import atomic_write


def rng_state() -> dict:
    """Every global RNG state, in types that ``torch.load(weights_only=True)`` reads."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": list(random.getstate()[1]),
        "python_version": random.getstate()[0],
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    random.setstate((state["python_version"], tuple(state["python"]), None))


def fit_avit(
    model: AViT,
    x: Tensor,
    y: Tensor,
    cfg: AViTTrainConfig,
    mean: Tensor,
    std: Tensor,
    partial: Path | None = None,
    stop_after: int | None = None,
    log=print,
    teacher=None,
    masks: tuple[Tensor, Tensor] | None = None,
) -> list[dict]:
    """Train ``model`` on images ``x`` in [0, 1] and labels ``y``; resumable.

    ``stop_after`` ends the run after that many epochs in total (to test resuming).
    ``teacher`` (a frozen plain ViT, eval mode) is needed when ``cfg.distill_alpha > 0``:
    its logits on the same augmented batch are the soft targets.
    ``masks`` = (animal coverage, animal-free backgrounds) of the frames
    (:func:`~mvk_tutorial.attention.train_vit.load_masks`) is needed when
    ``cfg.paste > 0``: the ViT's copy-paste augmentation, so that the fine-tuning sees
    the same kind of images the ViT was trained on.

    Book: ch05, section "Fine-tuning the tiny ViT".
    """

    if cfg.distill_alpha and teacher is None:
        raise ValueError("fit_avit: distill_alpha > 0 needs a teacher (the plain ViT)")
    if cfg.paste > 0 and masks is None:
        raise ValueError("fit_avit: paste > 0 needs the frames' masks (masks=...)")
    class_w = class_weights(y, model.cfg.num_classes) if cfg.balance else None
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(cfg.seed)
    steps = math.ceil(len(x) / cfg.batch_size)
    total, warmup = cfg.epochs * steps, cfg.warmup_epochs * steps
    history, start = [], 0
    if partial is not None and partial.is_file():
        state = torch.load(partial, map_location="cpu", weights_only=True)
        if state["train_config"] == asdict(cfg):
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optim"])
            g.set_state(state["generator"])
            set_rng_state(state["rng"])
            history, start = state["history"], state["epoch"]
            log(f"resuming from {partial} after epoch {start}")
    end = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
    model.token_path = "gather"  # same numbers as "mask", less work
    for epoch in range(start, end):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        sums = {"loss": 0.0, "ce": 0.0, "rho": 0.0, "correct": 0.0}
        for i in range(steps):
            idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            for group in opt.param_groups:
                group["lr"] = _lr_at(epoch * steps + i, total, warmup, cfg.lr)
            xb = x[idx]
            if cfg.paste > 0:  # the ViT's copy-paste (labels unchanged)
                xb, _ = paste_animals(
                    xb, y[idx], masks[0][idx], masks[1][idx], g, cfg.paste,
                    **({"shift": cfg.paste_shift} if cfg.paste_shift else {}),
                )  # fmt: skip
            xb = augment(xb, g, zoom=cfg.zoom) if cfg.zoom else augment(xb, g)
            xb = (xb - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
            logits = model(xb)
            ce = F.cross_entropy(
                logits, y[idx], weight=class_w, label_smoothing=cfg.label_smoothing
            )
            aux = model.losses(cfg.target_depth)
            ponder = model.rho[:, 1:].mean() if cfg.patch_ponder_only else aux["ponder"]
            loss = ce + cfg.ponder_scale * ponder + cfg.distr_prior_alpha * aux["distr_prior"]
            if cfg.cls_ponder_scale:
                loss = loss + cfg.cls_ponder_scale * model.rho[:, 0].mean()
            if cfg.distill_alpha:
                loss = loss + cfg.distill_alpha * distill_loss(
                    logits, teacher, xb, cfg.distill_temperature
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n = len(idx)
            sums["loss"] += loss.item() * n
            sums["ce"] += ce.item() * n
            sums["rho"] += aux["ponder"].item() * n
            sums["correct"] += (logits.argmax(-1) == y[idx]).sum().item()
        row = {"epoch": epoch + 1, **{k: v / len(x) for k, v in sums.items()}}
        history.append(row)
        log(
            f"epoch {row['epoch']}: loss {row['loss']:.3f} ce {row['ce']:.3f} "
            f"mean rho {row['rho']:.2f} train acc (aug) {row['correct']:.3f}"
        )
        if partial is not None:
            with atomic_path(partial) as tmp:
                torch.save(
                    {
                        "train_config": asdict(cfg),
                        "model": model.state_dict(),
                        "optim": opt.state_dict(),
                        "generator": g.get_state(),
                        "rng": rng_state(),
                        "history": history,
                        "epoch": epoch + 1,
                    },
                    tmp,
                )
    return history


def distill_loss(logits: Tensor, teacher, xb: Tensor, temperature: float) -> Tensor:
    """T^2 KL(softmax(teacher / T) || softmax(student / T)), batch mean (Hinton et al.).

    Book: ch05, section "Fine-tuning the tiny ViT".
    """
    with torch.no_grad():
        soft = F.log_softmax(teacher(xb) / temperature, -1)  # (B, classes)
    student = F.log_softmax(logits / temperature, -1)
    kl = F.kl_div(student, soft, log_target=True, reduction="batchmean")
    return kl * temperature**2


@torch.no_grad()
def evaluate_avit(model, x: Tensor, y: Tensor, batch_size: int = 256) -> dict:
    """Accuracy and mean halting depth (1-based blocks) of ``model`` on (x, y).

    Book: ch05, section "Measured speed and accuracy".
    """
    model.eval()
    preds, depths = [], []
    for i in range(0, len(x), batch_size):
        logits, depth = model(x[i : i + batch_size], return_depth=True)
        preds.append(logits.argmax(-1))
        depths.append(depth)
    pred, depth = torch.cat(preds), torch.cat(depths).double()
    return {
        "accuracy": (pred == y).double().mean().item(),
        "mean_depth": depth.mean().item(),
        "mean_depth_patches": depth[:, 1:].mean().item(),
        "mean_depth_cls": depth[:, 0].mean().item(),
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_avit(path: str | Path, model: AViT, **extra) -> None:
    """Save config + plain state_dict (+ metadata) atomically. Book: ch05, section "Fine-tuning the tiny ViT"."""

    payload = {"config": config_dict(model), "state_dict": model.state_dict(), **extra}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_avit(path: str | Path, token_path: str = "gather") -> tuple[AViT, dict]:
    """Load a checkpoint written by :func:`save_avit`: (model in eval mode, metadata).

    Book: ch05, section "Fine-tuning the tiny ViT".
    """

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"A-ViT weights {path}: no such file (train with `mvk train avit`)")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"A-ViT weights {path}: expected a dict with 'config' and 'state_dict'")
    conf = ckpt["config"]
    vit = dict(conf["vit"])
    if isinstance(vit.get("img_size"), list):
        vit["img_size"] = tuple(vit["img_size"])
    model = AViT(ViTConfig(**vit), HaltingConfig(**conf["halting"]), conf["norm_eps"], token_path)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise ValueError(f"A-ViT weights {path}: state dict does not fit its config: {exc}")
    meta = {k: v for k, v in ckpt.items() if k not in ("config", "state_dict")}
    return model.eval(), meta


def run_training(
    cfg: AViTTrainConfig,
    out: Path,
    vit_path: Path,
    data_root: Path | None = None,
    command: str = "",
    log=print,
) -> dict:
    """Fine-tune, evaluate on held-out videos, write ``out`` (.pt) and its .json/.md.

    Book: ch05, section "Fine-tuning the tiny ViT".
    """

    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    vit, vit_meta = load_vit(vit_path)
    root = Path(data_root) if data_root else ensure_mvk_mini(cfg.preset)
    manifest = load_manifest(root)
    data = prepare_data(root, vit.cfg.img_size)
    x01 = data["images"].float() / 255.0
    mean, std = vit_meta["mean"], vit_meta["std"]  # the ViT's own normalisation
    xn = (x01 - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    y, tr, ho = data["labels"], data["train_idx"], data["held_idx"]
    tr = tr[data["df"]["frame_index"].to_numpy()[tr] % cfg.frame_stride == 0]
    halting = HaltingConfig(
        gate_scale=cfg.gate_scale, gate_center=cfg.gate_center, halting=cfg.halting
    )
    model = avit_from_vit(vit, halting)
    vit_held = evaluate_avit(avit_from_vit(vit, HaltingConfig(halting=False)), xn[ho], y[ho])
    out = Path(out)
    partial = out.with_name(out.stem + ".partial.pt")
    teacher = vit.eval() if cfg.distill_alpha else None
    masks = None
    if cfg.paste > 0:  # coverage and inpainted backgrounds, as mvk train vit makes them
        masks = load_masks(list(data["df"]["semantic_path"].iloc[tr]), data["images"][tr])
    history = fit_avit(
        model, x01[tr], y[tr], cfg, mean, std, partial=partial, log=log, teacher=teacher,
        masks=masks,
    )
    held, train = evaluate_avit(model, xn[ho], y[ho]), evaluate_avit(model, xn[tr], y[tr])
    seqs = data["df"]["seq"].to_numpy()
    metrics = {
        "heldout_accuracy": round(held["accuracy"], 4),
        "heldout_mean_depth": round(held["mean_depth"], 3),
        "heldout_mean_depth_patches": round(held["mean_depth_patches"], 3),
        "heldout_mean_depth_cls": round(held["mean_depth_cls"], 3),
        "vit_heldout_accuracy_same_data": round(vit_held["accuracy"], 4),
        "train_accuracy": round(train["accuracy"], 4),
        "train_videos": len(set(seqs[tr])),
        "heldout_videos": len(set(seqs[ho])),
        "train_frames": len(tr),
        "heldout_frames": len(ho),
        "final_ce": round(history[-1]["ce"], 4) if history else None,
        "final_mean_rho": round(history[-1]["rho"], 3) if history else None,
        "minutes": round((time.perf_counter() - t0) / 60, 2),
    }
    info = {
        "command": command or "mvk train avit",
        "train_config": asdict(cfg),
        "metrics": metrics,
        "depth": vit.cfg.depth,
        "init": {
            "weights": Path(vit_path).name,
            "sha256": sha256(vit_path),
            "sidecar_sha256": sha256(Path(vit_path).with_suffix(".md"))
            if Path(vit_path).with_suffix(".md").is_file()
            else None,
            "vit_data": vit_meta.get("data"),
        },
        "data": {
            "preset": manifest.get("preset"),
            "generator_version": manifest.get("generator_version"),
            "seed": manifest.get("config", {}).get("seed"),
        },
        "torch": torch.__version__,
    }
    save_avit(
        out, model.eval(), classes=data["classes"], mean=mean, std=std,
        metrics=metrics, train_config=asdict(cfg), data=info["data"],
    )  # fmt: skip
    write_sidecars(out, info)
    partial.unlink(missing_ok=True)
    return metrics


def _augmentation_text(c: dict) -> str:
    """The augmentations of a train config, in words (for the .md sidecar)."""
    parts = ["flips, colour gains and shifts as `mvk train vit`"]
    if c.get("zoom"):
        parts.append(f"random zoom-in up to {1 + c['zoom']:g}x")
    if c.get("paste"):
        shift = f", moved by up to {c['paste_shift']:g} of the frame" if c.get("paste_shift") else ""
        parts.append(f"copy-paste of the animals onto other scenes (probability {c['paste']:g}{shift})")
    if c.get("balance"):
        parts.append("class-balanced loss")
    return ", ".join(parts)


def write_sidecars(out: Path, info: dict) -> None:
    """``out``.json (machine-readable) and ``out``.md (for readers), atomically."""
    import json


    m, c, init, data = info["metrics"], info["train_config"], info["init"], info["data"]
    info = {**info, "file_mb": round(out.stat().st_size / 2**20, 2)}
    atomic_write(out.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    text = f"""# {out.stem}: tiny A-ViT fine-tuned from {init["weights"]} on MVK-mini

Produced by the package's own command (no notebook trains it):

```
{info["command"]}
```

- Start: `{init["weights"]}` (sha256 `{init["sha256"][:16]}...`, its sidecar .md sha256
  `{(init["sidecar_sha256"] or "-")[:16]}...`; trained on MVK-mini generator version
  {(init["vit_data"] or {}).get("generator_version")}). Halting adds no parameters: h =
  sigmoid({c["gate_scale"]} * e0 - {c["gate_center"]}), eps 0.01.
- Data: MVK-mini preset `{data["preset"]}` (generator version {data["generator_version"]},
  data seed {data["seed"]}), split by video: {m["train_videos"]} train videos
  ({m["train_frames"]} frames, 1 in {c["frame_stride"]}), {m["heldout_videos"]} held-out `val`
  videos ({m["heldout_frames"]} frames, never seen in training).
- Training: seed {c["seed"]}, {c["epochs"]} epochs, AdamW lr {c["lr"]}, weight decay
  {c["weight_decay"]}, batch {c["batch_size"]}, label smoothing {c["label_smoothing"]}, ponder
  scale {c["ponder_scale"]}{" (patch tokens only)" if c.get("patch_ponder_only") else ""},
  class-token ponder scale {c.get("cls_ponder_scale", 0.0)}, distributional prior alpha
  {c["distr_prior_alpha"]} (Gaussian around block {c["target_depth"]}), distillation from the
  plain ViT alpha {c.get("distill_alpha", 0.0)} at temperature {c.get("distill_temperature", 1.0)};
  augmentation {_augmentation_text(c)};
  {c["threads"]} CPU thread(s), torch {info["torch"]}, {m["minutes"]} min wall time;
  file {info["file_mb"]} MB.

## Metrics on held-out videos

| model | held-out accuracy | mean halting depth (blocks, all tokens) | class token |
|---|---|---|---|
| plain ViT (`{init["weights"]}`) | {m["vit_heldout_accuracy_same_data"]:.3f} | {info["depth"]} | {info["depth"]} |
| A-ViT (this file) | {m["heldout_accuracy"]:.3f} | {m["heldout_mean_depth"]:.2f} | {m.get("heldout_mean_depth_cls", float("nan")):.2f} |

Depths from the full forward (``early_exit=False``). Speed (images/s of the gather path
with ``early_exit=True`` vs the plain ViT): see `benchmarks/avit.py` and chapter 5.
"""
    atomic_write(out.with_suffix(".md"), text)
