"""Train the tiny ViT on MVK-mini: which animal fills most of the frame?

Each frame of an MVK-mini video is labelled with its ``main_class`` (the class with
the most visible pixels, "background" when no animal is visible; see
``mvk_tutorial.mvk.labels.load_frame_labels``). Frames are resized to 48 x 80 and the
data are split **by video**, with the collection's own split: frames of ``train``
videos train the model, frames of the held-out ``val`` videos measure it, so a test
frame never has a near-identical neighbour in the training set.

``mvk train vit`` runs :func:`run_training`: seeded, a tqdm bar per epoch, a resumable
checkpoint after every epoch (``<out>.partial.pt``, removed at the end), weights and
a sidecar ``.md`` (command, seed, data, metrics) written atomically.

Cost: the frames are decoded and resized once (uint8 in memory), the masks and the
animal-free backgrounds of ``--paste`` once (about 25 s); an epoch of the tiny ViT is
then about 1.8 s of training and 0.4 s of held-out evaluation on one idle CPU core, so
60 epochs take a few minutes on a quiet machine. On a shared 2-core machine the wall time
grows with the load (the same run took 26 min at a load of 12).

Class fix (ch02, "What the confusion matrix says"): ``--paste`` pastes every frame's
animals onto another training frame's animal-free scene (:func:`paste_animals`),
``--paste-shift`` moves them, ``--balance`` weights the loss by inverse class frequency
(:func:`class_weights`), ``--gain-mode brightness`` keeps hues.

Book: ch02 "A tiny ViT on MVK-mini".
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mvk_tutorial.attention.vit import VIT_PRESETS, VisionTransformer, save_vit
from mvk_tutorial.mvk.labels import CLASSES, load_frame_labels, load_manifest, read_mask
from mvk_tutorial.mvk.synthetic import ensure_mvk_mini
from mvk_tutorial.utils.files import atomic_path, atomic_write
from mvk_tutorial.utils.seed import seed_everything
from mvk_tutorial.attention.cnn import CNN_PRESETS, SmallCNN, save_cnn


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of ``mvk train vit``. Book: ch02 "A tiny ViT on MVK-mini"."""

    preset: str = "book"  # MVK-mini preset (``ensure_mvk_mini``)
    model: str = "vit_tiny_mvk"  # ``VIT_PRESETS`` or ``CNN_PRESETS`` name
    epochs: int = 25
    frame_stride: int = 2  # train on every 2nd frame (neighbours are near-duplicates)
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    zoom: float = 0.0  # random zoom-in by a factor in [1, 1 + zoom] (0: off)
    gain: float = 0.25  # colour gain amplitude: factor in U(1 - gain, 1 + gain)
    gain_mode: str = "channel"  # "channel": one factor per channel; "brightness": one per image
    balance: bool = False  # class-balanced loss weights (inverse class frequency)
    paste: float = 0.0  # probability of pasting a frame's animals onto another frame
    paste_shift: float = 0.0  # pasted animals move by up to this fraction of H and W
    seed: int = 0
    threads: int = 2


def load_images(paths: list[str], size: tuple[int, int]) -> Tensor:
    """Read frames (any size) as RGB uint8 (N, 3, H, W) resized to ``size`` = (H, W)."""
    import cv2

    out = np.empty((len(paths), size[0], size[1], 3), np.uint8)
    for i, p in enumerate(paths):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{p}: cannot read the frame (missing or not an image)")
        img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        out[i] = img[:, :, ::-1]  # BGR -> RGB
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()  # (N, 3, H, W)


def normalize(images: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """uint8 (N, 3, H, W) -> float, standardised with per-channel ``mean``/``std``."""
    x = images.float() / 255.0
    return (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


def augment(
    x: Tensor,
    g: torch.Generator,
    shift: int = 4,
    gain: float = 0.25,
    zoom: float = 0.0,
    gain_mode: str = "channel",
) -> Tensor:
    """Augment images in [0, 1]: flip, per-channel colour gain, translation, zoom.

    The colour gain (each channel times U(1 - gain, 1 + gain)) imitates the water casts
    that differ from video to video, so the model cannot tell species by tint alone.
    With ``zoom > 0`` the batch is enlarged by a factor U(1, 1 + zoom) and cropped back
    to its size at a random place: animals appear larger and anywhere in the frame.
    """
    B, C, H, W = x.shape
    flip = torch.rand(B, generator=g) < 0.5
    x = torch.where(flip.view(B, 1, 1, 1), x.flip(-1), x)
    if gain_mode == "channel":
        x = x * (1 + gain * (2 * torch.rand(B, C, 1, 1, generator=g) - 1))
    elif gain_mode == "brightness":  # one factor for the three channels: hue is kept
        x = x * (1 + gain * (2 * torch.rand(B, 1, 1, 1, generator=g) - 1))
    else:
        raise ValueError(f"gain_mode {gain_mode!r}: expected 'channel' or 'brightness'")
    padded = F.pad(x, (shift,) * 4, mode="replicate")  # (B, C, H + 2s, W + 2s)
    dy, dx = torch.randint(0, 2 * shift + 1, (2,), generator=g).tolist()
    x = padded[..., dy : dy + H, dx : dx + W]
    if zoom > 0:
        s = 1 + zoom * torch.rand(1, generator=g).item()
        hh, ww = round(H * s), round(W * s)
        big = F.interpolate(x, size=(hh, ww), mode="bilinear", align_corners=False)
        dy, dx = (
            torch.randint(0, hh - H + 1, (1,), generator=g).item(),
            torch.randint(0, ww - W + 1, (1,), generator=g).item(),
        )
        x = big[..., dy : dy + H, dx : dx + W]  # (B, C, H, W)
    return x.clamp(0, 1)


def paste_animals(
    x: Tensor,
    y: Tensor,
    alpha: Tensor,
    background: Tensor,
    g: torch.Generator,
    p: float,
    shift: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Copy-paste augmentation: put the animals of a frame into another video's scene.

    With probability ``p`` per frame, the animals of frame ``i`` (blended with their
    exact, anti-aliased coverage ``alpha[i]`` from the class masks) are pasted onto
    ``background[j]``, the animal-free background of a random partner ``j`` of the
    batch. The label stays ``y[i]``: the composite holds exactly frame ``i``'s animals.
    The animal now swims in another site's water and seabed, so the background stops
    predicting the class (the idea of Dwibedi et al. 2017, "Cut, Paste and Learn", and
    Ghiasi et al. 2021, "Simple Copy-Paste").

    With ``shift > 0`` the animal layer (pixels and coverage together) also moves by a
    random offset of up to ``shift`` times the frame's height and width (wrapping
    around), so animals are seen in front of every part of a scene, the seabed too.

    ``x`` (B, 3, H, W) and ``background`` (B, 3, H, W) in [0, 1]; ``alpha``
    (B, 1, H, W) in [0, 1]. Returns the new batch and the unchanged labels.
    Book: ch02, section "What the confusion matrix says".
    """
    B = len(x)
    x_orig = x
    do = torch.rand(B, generator=g) < p  # (B,)
    partner = torch.randperm(B, generator=g)  # frame i's animals go onto j's background
    if shift > 0:
        H, W = x.shape[-2:]
        dy = torch.randint(-int(shift * H), int(shift * H) + 1, (B,), generator=g).tolist()
        dx = torch.randint(-int(shift * W), int(shift * W) + 1, (B,), generator=g).tolist()
        x = x.clone()
        alpha = alpha.clone()
        for i in range(B):  # move frame i's animals (and, unused, its scene) together
            x[i] = torch.roll(x[i], (dy[i], dx[i]), dims=(-2, -1))
            alpha[i] = torch.roll(alpha[i], (dy[i], dx[i]), dims=(-2, -1))
    out = alpha * x + (1 - alpha) * background[partner]  # (B, 3, H, W)
    return torch.where(do.view(B, 1, 1, 1), out, x_orig), y


def load_masks(
    paths: list[str], images: Tensor
) -> tuple[Tensor, Tensor]:
    """For frames ``images`` (N, 3, H, W) uint8 and their class-mask files: the
    animals' coverage (N, 1, H, W) in [0, 1] (area average of the exact mask at the
    input size) and animal-free backgrounds (N, 3, H, W) in [0, 1] (the animals
    removed by OpenCV's Telea inpainting). Book: ch02, section "What the confusion
    matrix says"."""
    import cv2

    n, _, h, w = images.shape
    cover = np.empty((n, 1, h, w), np.float32)
    clean = np.empty((n, h, w, 3), np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    rgb = images.permute(0, 2, 3, 1).contiguous().numpy()  # (N, H, W, 3)
    for i, p in enumerate(paths):
        m = (read_mask(p) > 0).astype(np.float32)
        cover[i, 0] = cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA)
        hole = cv2.dilate((cover[i, 0] > 0).astype(np.uint8), kernel)
        clean[i] = cv2.inpaint(rgb[i], hole, 3, cv2.INPAINT_TELEA)
    background = torch.from_numpy(clean).permute(0, 3, 1, 2).float() / 255.0
    return torch.from_numpy(cover), background


def split_by_video(df) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and held-out frames from the per-video ``split`` column."""
    per_video = df.groupby("seq")["split"].nunique()
    if (per_video > 1).any():
        raise ValueError("frame labels: a video has frames in both splits")
    train = np.flatnonzero(df["split"].to_numpy() == "train")
    held = np.flatnonzero(df["split"].to_numpy() == "val")
    if len(train) == 0 or len(held) == 0:
        raise ValueError(
            "frame labels: expected frames in both 'train' and 'val' videos"
        )
    return train, held


@torch.no_grad()
def evaluate(
    model: VisionTransformer,
    x: Tensor,
    y: Tensor,
    num_classes: int,
    batch_size: int = 256,
) -> dict:
    """Accuracy and the confusion matrix (rows = true class) on (x, y)."""
    model.eval()
    pred = torch.cat(
        [model(x[i : i + batch_size]).argmax(-1) for i in range(0, len(x), batch_size)]
    )
    conf = torch.zeros(num_classes, num_classes, dtype=torch.long)
    conf.index_put_((y, pred), torch.ones_like(y), accumulate=True)
    return {"accuracy": (pred == y).float().mean().item(), "confusion": conf}


def class_weights(y: Tensor, num_classes: int) -> Tensor:
    """Loss weight of each class: ``N / (K * n_c)`` for the K classes present, 0 else.

    With these weights every class present in ``y`` contributes the same total weight
    to the loss, however many frames it has: a class seen in 3 videos counts as much as
    one seen in 8 (the "inverse class frequency" re-weighting). Book: ch02, section
    "What the confusion matrix says".
    """
    counts = torch.bincount(y, minlength=num_classes).double()  # (C,)
    present = counts > 0
    w = torch.zeros(num_classes, dtype=torch.float64)
    w[present] = len(y) / (int(present.sum()) * counts[present])
    return w.float()


def _lr_at(step: int, total: int, warmup: int, lr: float) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    return 0.5 * lr * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def rng_states(g: torch.Generator) -> dict:
    """Every random state a training step can draw from, as plain tensors and ints.

    The data generator ``g`` (shuffling, augmentation), torch's global generator (dropout,
    drop-path), CUDA's generators, numpy's and Python's. Loadable with
    ``torch.load(weights_only=True)``. Book: ch02, section "A tiny ViT on MVK-mini".
    """
    import random

    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "data": g.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": [version, list(internal), gauss_next],
    }


def set_rng_states(g: torch.Generator, states: dict) -> None:
    """Restore what :func:`rng_states` saved. Book: ch02, section "A tiny ViT on MVK-mini"."""
    import random

    g.set_state(states["data"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    name, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))


def fit(
    model,
    x,
    y,
    cfg: TrainConfig,
    mean: Tensor,
    std: Tensor,
    partial: Path | None = None,
    log=print,
    data_id: dict | None = None,
    eval_fn=None,
    masks: tuple[Tensor, Tensor] | None = None,
) -> list[dict]:
    """Train on images ``x`` in [0, 1] (augmented, then standardised with ``mean``/
    ``std``) and labels ``y``; AdamW + warm-up + cosine; resumable from ``partial``.

    ``eval_fn(model) -> dict``, if given, runs after every epoch (the model in eval
    mode, no random numbers drawn) and its numbers join that epoch's history entry:
    that is how the learning curves of held-out accuracy are recorded.

    A partial checkpoint is resumed only if it was written with the same config and
    the same data (``data_id``, e.g. the collection folder and its generator version);
    all random states are restored, so a resumed run equals an uninterrupted one.

    ``masks`` = (coverage (N, 1, H, W), animal-free backgrounds (N, 3, H, W)) of the
    frames (:func:`load_masks`) is needed when ``cfg.paste > 0`` (copy-paste
    augmentation, :func:`paste_animals`).
    """
    from tqdm.auto import tqdm

    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    g = torch.Generator().manual_seed(cfg.seed)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    total, warmup = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch
    history, start = [], 0
    class_w = class_weights(y, model.cfg.num_classes) if cfg.balance else None
    if cfg.paste > 0 and masks is None:
        raise ValueError("fit: cfg.paste > 0 needs the frames' masks (masks=...)")
    data_id = dict(data_id or {})
    if partial is not None and partial.is_file():
        try:
            state = torch.load(partial, map_location="cpu", weights_only=True)
        except Exception as err:
            raise RuntimeError(
                f"{partial}: partial checkpoint is corrupt or from an older version "
                f"({err}); delete it to start afresh"
            ) from err
        if not isinstance(state, dict) or "rng_states" not in state:
            log(f"ignoring {partial}: written by an older version (no random states)")
        elif state["train_config"] != asdict(cfg):
            log(f"ignoring {partial}: written with another configuration")
        elif state.get("data_id", {}) != data_id:
            log(f"ignoring {partial}: written for other data ({state.get('data_id')})")
        else:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optim"])
            set_rng_states(g, state["rng_states"])
            history, start = state["history"], state["epoch"]
            log(f"resuming from {partial} after epoch {start}")
    for epoch in tqdm(
        range(start, cfg.epochs),
        desc="mvk train vit",
        initial=start,
        total=cfg.epochs,
        unit="epoch",
    ):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        loss_sum = correct = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            for group in opt.param_groups:
                group["lr"] = _lr_at(epoch * steps_per_epoch + i, total, warmup, cfg.lr)
            xb, yb = x[idx], y[idx]
            if cfg.paste > 0:
                xb, yb = paste_animals(
                    xb, yb, masks[0][idx], masks[1][idx], g, cfg.paste,
                    **({"shift": cfg.paste_shift} if cfg.paste_shift else {}),
                )  # masks = (coverage, animal-free backgrounds)
            if cfg.gain_mode == "channel" and cfg.gain == 0.25:
                xb = augment(xb, g, zoom=cfg.zoom)  # the original call
            else:
                xb = augment(
                    xb, g, gain=cfg.gain, zoom=cfg.zoom, gain_mode=cfg.gain_mode
                )
            logits = model((xb - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
            loss = F.cross_entropy(
                logits,
                yb,
                weight=class_w,
                label_smoothing=cfg.label_smoothing,
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(-1) == yb).sum().item()
        entry = {
            "epoch": epoch + 1,
            "loss": loss_sum / len(x),
            "train_acc_aug": correct / len(x),
            "lr_end": opt.param_groups[0]["lr"],
        }
        if eval_fn is not None:
            model.eval()
            entry.update(eval_fn(model))
            model.train()
        history.append(entry)
        if partial is not None:
            with atomic_path(partial) as tmp:
                torch.save(
                    {
                        "train_config": asdict(cfg),
                        "model": model.state_dict(),
                        "optim": opt.state_dict(),
                        "rng_states": rng_states(g),
                        "data_id": data_id,
                        "history": history,
                        "epoch": epoch + 1,
                    },
                    tmp,
                )
    return history


def prepare_data(root: Path, img_size: tuple[int, int]) -> dict:
    """Frames, labels and the video split of an MVK-mini collection (Book: ch02)."""
    df = load_frame_labels(root)
    train_idx, held_idx = split_by_video(df)
    images = load_images(list(df["frame_path"]), img_size)  # (N, 3, H, W) uint8
    labels = torch.tensor(df["main_class_id"].to_numpy().copy(), dtype=torch.long)
    if labels.min() < 0 or labels.max() >= len(CLASSES):
        raise ValueError(f"{root}: main_class_id outside 0..{len(CLASSES) - 1}")
    train_x = images[train_idx].float() / 255.0
    mean, std = train_x.mean(dim=(0, 2, 3)), train_x.std(dim=(0, 2, 3))
    return {
        "df": df,
        "images": images,
        "labels": labels,
        "train_idx": train_idx,
        "held_idx": held_idx,
        "mean": mean,
        "std": std,
        "classes": list(CLASSES),
    }


def build_model(name: str):
    """(model, its config, its save function) for a ViT or CNN preset name.

    Book: ch02, section "A CNN of the same size as a control".
    """

    if name in VIT_PRESETS:
        return VisionTransformer(VIT_PRESETS[name]), VIT_PRESETS[name], save_vit
    if name in CNN_PRESETS:
        return SmallCNN(CNN_PRESETS[name]), CNN_PRESETS[name], save_cnn
    raise ValueError(
        f"model {name!r}: expected one of {sorted(VIT_PRESETS) + sorted(CNN_PRESETS)}"
    )


def _write_json_sidecar(
    out, cfg, arch_cfg, metrics, confusion, classes, data_info, curve, command
) -> None:
    import json


    rows = confusion.sum(1)
    payload = {
        "name": out.stem,
        "command": command or f"mvk train {'cnn' if 'cnn' in cfg.model else 'vit'}",
        "seed": cfg.seed,
        "architecture": {"preset": cfg.model, **asdict(arch_cfg)},
        "parameters": int(sum(p.numel() for p in build_model(cfg.model)[0].parameters())),
        "data": data_info,
        "train_config": asdict(cfg),
        "metrics": metrics,
        "heldout_accuracy_per_class": {
            name: (round(confusion[c, c].item() / int(rows[c]), 4) if rows[c] else None)
            for c, name in enumerate(classes)
        },
        "heldout_confusion": confusion.tolist(),
        "learning_curve": curve,
        "torch": torch.__version__,
    }
    atomic_write(out.with_suffix(".json"), json.dumps(payload, indent=1) + "\n")


def run_training(
    cfg: TrainConfig,
    out: Path,
    data_root: Path | None = None,
    command: str = "",
    log=print,
) -> dict:
    """Train, evaluate on held-out videos, write ``out`` (.pt) and ``out`` .md.

    Book: ch02 "A tiny ViT on MVK-mini".
    """
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    root = Path(data_root) if data_root else ensure_mvk_mini(cfg.preset)
    manifest = load_manifest(root)
    model, arch_cfg, save_fn = build_model(cfg.model)
    data = prepare_data(root, arch_cfg.img_size)
    x01 = data["images"].float() / 255.0
    x = normalize(data["images"], data["mean"], data["std"])
    y = data["labels"]
    tr, ho = data["train_idx"], data["held_idx"]
    tr = tr[data["df"]["frame_index"].to_numpy()[tr] % cfg.frame_stride == 0]
    n_cls = len(data["classes"])
    if arch_cfg.num_classes != n_cls:
        raise ValueError(
            f"{cfg.model}: num_classes={arch_cfg.num_classes}, data has "
            f"{n_cls} classes"
        )

    def held_out_curve(m) -> dict:  # one point of the learning curve per epoch
        r = evaluate(m, x[ho], y[ho], n_cls)
        return {"heldout_acc": round(r["accuracy"], 4)}

    out = Path(out)
    partial = out.with_name(out.stem + ".partial.pt")
    data_id = {
        "root": str(Path(root).resolve()),
        "generator_version": manifest.get("generator_version"),
        "frames": int(len(tr)),
    }
    masks = None
    if cfg.paste > 0:
        masks = load_masks(
            list(data["df"]["semantic_path"].iloc[tr]), data["images"][tr]
        )
    history = fit(
        model,
        x01[tr],
        y[tr],
        cfg,
        data["mean"],
        data["std"],
        partial=partial,
        log=log,
        data_id=data_id,
        eval_fn=held_out_curve,
        masks=masks,
    )
    train_m, held_m = (
        evaluate(model, x[tr], y[tr], n_cls),
        evaluate(model, x[ho], y[ho], n_cls),
    )
    conf = held_m["confusion"]
    rows = conf.sum(1)
    per_class = (conf.diag().float() / rows.clamp(min=1))[rows > 0]
    seqs = data["df"]["seq"].to_numpy()
    metrics = {
        "train_accuracy": round(train_m["accuracy"], 4),
        "heldout_accuracy": round(held_m["accuracy"], 4),
        "heldout_min_class_accuracy": round(per_class.min().item(), 4),
        "majority_baseline": round(
            (y[ho] == torch.bincount(y[tr], minlength=n_cls).argmax())
            .float()
            .mean()
            .item(),
            4,
        ),
        "train_videos": len(set(seqs[tr])),
        "heldout_videos": len(set(seqs[ho])),
        "train_frames": len(tr),
        "heldout_frames": len(ho),
        "final_loss": round(history[-1]["loss"], 4),
        "minutes": round((time.perf_counter() - t0) / 60, 2),
    }
    data_info = {
        "preset": manifest.get("preset"),
        "generator_version": manifest.get("generator_version"),
        "seed": manifest.get("config", {}).get("seed"),
    }
    curve = [
        {k: round(v, 6) if isinstance(v, float) else v for k, v in h.items()}
        for h in history
    ]
    save_fn(
        out,
        model.eval(),
        classes=data["classes"],
        mean=data["mean"],
        std=data["std"],
        metrics=metrics,
        train_config=asdict(cfg),
        confusion_heldout=conf,
        history=curve,
        data=data_info,
    )
    _write_json_sidecar(
        out, cfg, arch_cfg, metrics, conf, data["classes"], data_info, curve, command
    )
    _write_sidecar(
        out, cfg, metrics, held_m["confusion"], data["classes"], manifest, command
    )
    partial.unlink(missing_ok=True)
    return metrics


def _write_sidecar(
    out: Path, cfg, metrics, confusion, classes, manifest, command
) -> None:
    per_class = []
    for c, name in enumerate(classes):
        n = int(confusion[c].sum())
        acc = f"{confusion[c, c].item() / n:.3f}" if n else "-"
        per_class.append(f"| {name} | {n} | {acc} |")
    size_mb = out.stat().st_size / 2**20
    arch = build_model(cfg.model)[1]
    kind = "small CNN" if "cnn" in cfg.model else "tiny ViT"
    zoom_text = f", random zoom-in up to {1 + cfg.zoom:g}x" if cfg.zoom else ""
    gain_text = (
        f"colour gain \u00b1{cfg.gain:g} "
        + ("per channel" if cfg.gain_mode == "channel" else "per image (hue kept)")
    )
    fix = []
    if cfg.paste:
        fix.append(
            f"copy-paste (probability {cfg.paste:g}): each frame's animals, cut out with "
            "their exact masks, are pasted onto another training frame whose animals were "
            "inpainted away"
            + (f", moved by up to {cfg.paste_shift:g} of the frame size" if cfg.paste_shift else "")
        )
    if cfg.balance:
        fix.append("class-balanced loss (each class weighted by its inverse frequency)")
    fix_text = ("\n- Class fix: " + "; ".join(fix) + ".") if fix else ""
    text = (
        f"""# {out.stem}: {kind} trained on MVK-mini

Produced by the package's own training command (no notebook trains it):

```
{command or "mvk train " + ("cnn" if "cnn" in cfg.model else "vit")}
```

- Model: `{cfg.model}` {arch}; file {size_mb:.2f} MB.
- Task: the main class of a frame (the class with most visible pixels; "background" when
  no animal is visible), {len(classes)} classes.
- Data: MVK-mini preset `{cfg.preset}` (generator version
  {manifest.get("generator_version")}, data seed {manifest.get("config", {}).get("seed")}), frames resized
  to {arch.img_size}. Split **by video** with the collection's own split:
  {metrics["train_videos"]} train videos ({metrics["train_frames"]} frames: 1 in
  {cfg.frame_stride}),
  {metrics["heldout_videos"]} held-out `val` videos ({metrics["heldout_frames"]} frames: all).
- Training: seed {cfg.seed}, {cfg.epochs} epochs, AdamW lr {cfg.lr}, weight decay
  {cfg.weight_decay}, batch {cfg.batch_size}, {cfg.warmup_epochs} warm-up epochs then
  cosine, label smoothing {cfg.label_smoothing}, random flip, {gain_text} and 4 px
  shifts{zoom_text}, dropout {arch.drop_rate};
  {cfg.threads} CPU threads, torch {torch.__version__}, {metrics["minutes"]} min wall time
  (on a 2-core CPU, possibly shared with other jobs).{fix_text}

## Final metrics

| metric | value |
|---|---|
| held-out accuracy (frames of unseen videos) | {metrics["heldout_accuracy"]:.3f} |
| lowest held-out accuracy of a class | {metrics["heldout_min_class_accuracy"]:.3f} |
| majority-class baseline on the same frames | {metrics["majority_baseline"]:.3f} |
| training accuracy (no augmentation) | {metrics["train_accuracy"]:.3f} |
| final training loss (label-smoothed) | {metrics["final_loss"]:.3f} |

Held-out accuracy per true class:

| class | frames | accuracy |
|---|---|---|
"""
        + "\n".join(per_class)
        + f"\n\nThe learning curve (training loss and held-out accuracy after every "
        f"epoch) and the\nconfusion matrix are in `{out.stem}.json`.\n"
    )
    atomic_write(out.with_suffix(".md"), text)
