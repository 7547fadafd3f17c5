"""Training DeAOT (and AOT) for semi-supervised VOS, as aot-benchmark's trainer does.

One step (``ClipTrainer``): a batch of clips of ``clip_len`` frames; frame 0 with its
ground-truth mask becomes long-term (and short-term) memory; every later frame is
matched against memory, decoded, and scored against its ground truth; its *predicted*
mask (arg-max, no gradient) is then written into short-term memory for the next frame,
so the network learns to recover from its own mistakes as it will have to at test
time. Loss = 0.5 bootstrapped cross-entropy + 0.5 soft Jaccard (``losses.py``),
averaged over the predicted frames.

Optimiser: AdamW (no weight decay on biases and norms), learning rate warmed up
linearly, then decayed polynomially (power 0.9) to ``min_lr``; gradient-norm clipping;
AMP (float16 autocast + gradient scaling) on CUDA only.

Several processes: under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in
DistributedDataParallel (gloo on CPU, nccl on CUDA); rank r draws clip slots
``r*B .. r*B+B-1`` of each step, so ``P`` processes with batch ``B`` see exactly the
clips of one process with batch ``P*B``, and (the loss being a per-clip mean and DDP
averaging gradients) take the same optimiser steps up to float rounding.

Checkpoints (``checkpoint.pt``) hold the weights, optimiser and scaler states, the step
and every RNG state; they are written atomically, and a resumed run equals an
uninterrupted one (clips are a pure function of seed and step).

Book: ch08, section "Training DeAOT on MVK-mini".
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mvk_tutorial.utils import atomic_path
from mvk_tutorial.vos.losses import (
    bootstrap_ratio,
    bootstrapped_cross_entropy,
    soft_jaccard,
)
from mvk_tutorial.vos.train_data import ClipConfig, DavisClips
from mvk_tutorial.vos.deaot import build_deaot
from mvk_tutorial.vos.aot import build_aot
from mvk_tutorial.vos.deaot.checkpoint import load_state_dict_checked


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in checkpoints and sidecars).

    Official aot-benchmark defaults in comments; ours are sized for a CPU.
    Book: ch08, section "Training DeAOT on MVK-mini".
    """

    model: str = "deaot-mini"
    steps: int = 2000  # TRAIN_TOTAL_STEPS (100000)
    batch_size: int = 4  # TRAIN_BATCH_SIZE (16)
    clip_len: int = 5  # DATA_SEQ_LEN (5)
    crop: tuple[int, int] = (129, 129)  # DATA_RANDOMCROP (465, 465)
    lr: float = 1e-3  # TRAIN_LR (2e-4, from an ImageNet backbone)
    min_lr: float = 1e-5  # TRAIN_LR_MIN (2e-5)
    warmup: int = 100  # TRAIN_LR_WARM_UP_RATIO * steps (0.05 -> 5000)
    power: float = 0.9  # TRAIN_LR_POWER
    weight_decay: float = 0.07  # TRAIN_WEIGHT_DECAY
    clip_grad: float = 5.0  # TRAIN_CLIP_GRAD_NORM
    top_k_percent: float = 0.15  # TRAIN_TOP_K_PERCENT_PIXELS
    mining_ratio: float = 0.5  # TRAIN_HARD_MINING_RATIO (of the total steps)
    seed: int = 0
    checkpoint_every: int = 50
    amp: bool = True  # used on CUDA only
    scale: tuple[float, float] = (0.5, 1.0)  # clip rescale range (of the frame size)
    init_from: str | None = None  # start from these weights (a plain state_dict)
    multi_object: float = 0.0  # ours: fraction of clips showing >= 2 objects (train_data)

    def __post_init__(self):
        self.crop = tuple(self.crop)
        self.scale = tuple(self.scale)
        for name in ("steps", "batch_size", "clip_len", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if self.clip_len < 2:
            raise ValueError(f"clip_len: expected >= 2, got {self.clip_len}")
        if any((c - 1) % 16 for c in self.crop):
            raise ValueError(f"crop: sides must be 16k+1, got {self.crop}")


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Warm-up from 0 to ``lr`` over ``warmup`` steps, then polynomial decay to
    ``min_lr``: ``(lr - min_lr) * (1 - p) ** power + min_lr``, p = progress after warm-up.

    Book: ch08, section "Training DeAOT on MVK-mini".
    """
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    p = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return (cfg.lr - cfg.min_lr) * (1.0 - min(p, 1.0)) ** cfg.power + cfg.min_lr


def build_model(name: str) -> nn.Module:
    """``deaot-*`` -> ``build_deaot``; ``aot-*`` -> ``build_aot``. Book: ch08, section "Training DeAOT on MVK-mini"."""
    if name.lower().startswith("aot"):

        return build_aot(name)

    return build_deaot(name)


class ClipTrainer(nn.Module):
    """Wraps a DeAOT/AOT network so that one ``forward`` runs a whole batch of clips
    (what DistributedDataParallel needs) and returns the loss.

    Book: ch08, section "Training DeAOT on MVK-mini".
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(
        self,
        frames: torch.Tensor,
        masks: torch.Tensor,
        num_objects: torch.Tensor,
        ratio: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (B, T, 3, H, W), masks (B, T, 1, H, W), num_objects (B,) ->
        (loss, predicted masks (B, T-1, H, W))."""
        m = self.model
        B, T, _, H, W = frames.shape
        n_max = m.cfg.max_obj_num
        ids = torch.arange(n_max + 1, device=frames.device).view(1, -1, 1, 1)
        absent = ids > num_objects.view(-1, 1, 1, 1)  # (B, 11, 1, 1): unused channels
        feats = m.encode_image(frames[:, 0])
        id_emb = m.id_embedding(masks[:, 0], n_max)  # (h*w, B, C)
        _, mem = m.propagate(feats, None, None, id_emb)
        long_term = short_term = m.fuse_memory(mem, id_emb)
        losses, preds = [], []
        for t in range(1, T):
            feats = m.encode_image(frames[:, t])
            tokens, current = m.propagate(feats, long_term, short_term)
            logits = m.decode(tokens, feats)  # (B, 11, ~H/4, ~W/4)
            logits = F.interpolate(
                logits, (H, W), mode="bilinear", align_corners=m.cfg.align_corners
            )
            logits = logits.float().masked_fill(absent, -1e4)  # (B, 11, H, W)
            target = masks[:, t, 0]  # (B, H, W)
            ce = bootstrapped_cross_entropy(logits, target, ratio)
            losses.append(0.5 * ce + 0.5 * soft_jaccard(logits, target, num_objects))
            pred = logits.detach().argmax(1, keepdim=True)  # (B, 1, H, W), fed back
            preds.append(pred[:, 0])
            if t < T - 1:
                short_term = m.fuse_memory(current, m.id_embedding(pred, n_max))
        return torch.stack(losses).mean(), torch.stack(preds, 1)


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices and conv kernels only (not biases, norms)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def rng_state() -> dict:
    """Every RNG state (python, numpy, torch CPU, CUDA) in a weights_only-loadable form.

    Book: ch08, section "Training DeAOT on MVK-mini".
    """
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64))]
        + list(np_state[2:]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what ``rng_state`` saved. Book: ch08, section "Training DeAOT on MVK-mini"."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _dist_info() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return rank, world


def train(
    cfg: TrainConfig,
    davis_root: str | os.PathLike | list,
    out_dir: str | os.PathLike,
    split: str = "train",
    device: str | torch.device | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    data_info: dict | None = None,
) -> dict:
    """Train (or resume) a run in ``out_dir``; return a summary dict.

    Writes ``checkpoint.pt`` (every ``checkpoint_every`` steps and at the end), the plain
    state_dict ``model.pt`` at the end, and ``log.jsonl`` (one line per step). If
    ``checkpoint.pt`` exists with the same config, training resumes from it.
    ``stop_after``: stop (with a checkpoint) once this many steps are done in total,
    as an interruption would (used by the resume test).

    Book: ch08, section "Training DeAOT on MVK-mini".
    """
    from tqdm import tqdm

    rank, world = _dist_info()
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
            torch.cuda.set_device(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"

    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    model = build_model(cfg.model)
    if cfg.init_from:  # fine-tuning: weights of an earlier run (optimiser starts fresh)

        init = torch.load(cfg.init_from, map_location="cpu", weights_only=True)
        load_state_dict_checked(model, init, f"--init-from {cfg.init_from}")
    model = model.to(device).train()
    clips = DavisClips(
        davis_root,
        split,
        ClipConfig(
            clip_len=cfg.clip_len,
            crop=cfg.crop,
            scale=cfg.scale,
            max_obj=model.cfg.max_obj_num,
            multi_object=cfg.multi_object,
        ),
        seed=cfg.seed,
    )
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    step = 0
    config_dict = json.loads(json.dumps(asdict(cfg)))
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=True)
        if ck["config"] != config_dict:
            raise ValueError(
                f"{ckpt_path}: written by another configuration; use a new --out "
                f"(checkpoint {ck['config']}, asked {config_dict})"
            )
        model.load_state_dict(ck["model"], strict=True)
        opt.load_state_dict(ck["optimizer"])
        scaler.load_state_dict(ck["scaler"])
        step = int(ck["step"])
        set_rng_state(ck["rng"])
        # wall time of the earlier runs (None: a checkpoint from before it was kept)
        earlier_s = ck.get("train_s")
        earlier_s = None if earlier_s is None else float(earlier_s)
    else:
        earlier_s = 0.0
    net = ClipTrainer(model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)

    def save() -> None:
        if rank != 0:
            return
        ck = {
            "config": config_dict,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scaler": scaler.state_dict(),
            "step": step,
            "rng": rng_state(),
            "data": data_info or {},
            # all runs so far (unknown if an earlier run did not record it)
            "train_s": None if earlier_s is None else earlier_s + time.perf_counter() - t0,
        }
        with atomic_path(ckpt_path) as tmp:
            torch.save(ck, tmp)

    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    mining_steps = int(cfg.mining_ratio * cfg.steps)
    bar = tqdm(
        total=cfg.steps, initial=step, desc=f"train {cfg.model}", disable=not progress or rank != 0
    )
    t0, first = time.perf_counter(), step
    log = open(out_dir / "log.jsonl", "a", encoding="utf-8") if rank == 0 else None
    while step < end:
        lr = learning_rate(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        frames, masks, nobj = clips.batch(step, cfg.batch_size, rank)
        frames, masks, nobj = frames.to(device), masks.to(device), nobj.to(device)
        ratio = bootstrap_ratio(step, cfg.top_k_percent, mining_steps)
        with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
            loss, _ = net(frames, masks, nobj, ratio)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
        scaler.step(opt)
        scaler.update()
        step += 1
        rec_loss = loss.item()
        if log is not None:
            rec = {"step": step, "loss": loss.item(), "lr": lr, "grad_norm": gnorm.item()}
            log.write(json.dumps(rec) + "\n")
            log.flush()
        bar.update(1)
        bar.set_postfix(loss=f"{rec_loss:.3f}", lr=f"{lr:.2e}")
        if step % cfg.checkpoint_every == 0 or step == end:
            save()
    bar.close()
    if log is not None:
        log.close()
    if step == cfg.steps and rank == 0:
        with atomic_path(out_dir / "model.pt") as tmp:
            torch.save(model.state_dict(), tmp)
    wall = time.perf_counter() - t0
    return {
        "steps": step,
        "steps_this_run": step - first,
        "wall_s": wall,
        # every run of this folder (from the checkpoints); None if one did not record it
        "wall_s_total": None if earlier_s is None else earlier_s + wall,
        "s_per_step": wall / max(1, step - first),
        "world_size": world,
        "model": model,
    }
