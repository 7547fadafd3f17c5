"""Train a tiny SAN on MVK-mini semantic masks around the shipped tiny CLIP (``mvk train san``).

The frozen CLIP is ``clip_tiny_mvk`` (ch10); only the side network (and one "no object"
logit) learn. One animal class (``HELD_OUT``, jellyfish by default) is never a training
label: its pixels are ignored and its name is not among the training texts. At test
time, on frames of videos never seen in training (the ``val`` videos), all class names
are given, and the held-out class is found only through CLIP's own knowledge of its name:
open vocabulary. The baseline uses CLIP alone: each final patch token, projected into
CLIP's joint space, takes the class of the most similar text.

Resumable: a checkpoint (side network, optimiser, step, every RNG state) is written
atomically every ``save_every`` steps; a resumed run gives the same weights as an
uninterrupted one.

Book: ch06, section "Training on MVK-mini".
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mvk_tutorial.attention.san import SAN, class_logits, san_from_clip, semantic_logits
from mvk_tutorial.attention.san_loss import set_criterion
from mvk_tutorial.utils import atomic_path
from mvk_tutorial.mvk.scene import ANIMALS
from mvk_tutorial.mvk.synthetic import load_frame_labels, read_mask
from mvk_tutorial.retrieval.clip import TINY_CLIP_WEIGHTS, load_clip

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "san_tiny_mvk.pt"
HELD_OUT = "jellyfish"
SIDE_SIZE = (128, 224)  # the side network's input; CLIP sees half of it (64 x 112)
LABEL_SIZE = (32, 56)  # where the training loss compares masks
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
BACKGROUND_PROMPTS = (
    "a colourful coral reef, in blue water.",
    "a sandy bottom, in blue water.",
    "a rocky bottom, in green water.",
    "open water.",
)

#: The tiny SAN: CLIP blocks 0-1 extract, block 2 recognises; a 4-block side ViT.
TINY_SAN = dict(
    split_layer=2,
    side=dict(img_size=SIDE_SIZE, patch_size=16, embed_dim=64, depth=4, num_heads=2),
    num_queries=8,
    fusion_map={0: 0, 1: 1, 2: 2},
    deep_supervision_idxs=[3, 4],
    attn_bias=dict(
        num_heads=3,
        num_layers=1,
        embed_channels=32,
        mlp_channels=64,
        mlp_num_layers=3,
        rescale_attn_bias=True,
    ),
    clip_resolution=0.5,
)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (recorded for the CLIP weights a SAN was trained on).

    Book: ch06, section "Training on MVK-mini".
    """
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def class_texts(names: list[str]) -> list[list[str]]:
    """Prompts per class: an ensemble for the background; for an animal, a sentence in
    the style of MVK-mini's expert captions with the class's colour words ("One pink
    jellyfish in the center."; plain "a NAME." for names the world does not know).

    Book: ch06, section "From proposals to a segmentation".
    """

    colour = {a.name: a.colour for a in ANIMALS}
    out = []
    for n in names:
        if n == "background":
            out.append(list(BACKGROUND_PROMPTS))
        else:
            out.append(
                [f"One {colour[n]} {n} in the center." if n in colour else f"a {n}."]
            )
    return out


@torch.no_grad()
def text_embeddings(bundle, names: list[str]) -> Tensor:
    """(K, D) L2-normalised class embeddings (prompt ensembles averaged).

    Book: ch06, section "From proposals to a segmentation".
    """
    out = []
    for prompts in class_texts(names):
        e = bundle.encode_text(prompts, normalize=True).mean(0)  # (D,)
        out.append(F.normalize(e, dim=0))
    return torch.stack(out)


def normalize_images(images: Tensor) -> Tensor:
    """uint8 (B, 3, H, W) -> float, CLIP's pixel normalisation (both branches use it).

    Book: ch06, section "Training on MVK-mini".
    """
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (images.float() / 255 - mean) / std


def load_frames(root: Path, split: str, every: int, selected_only: bool = False):
    """Frames (N, 3, H, W) uint8 at ``SIDE_SIZE``, class ids (N, H, W) uint8, their table.

    Book: ch06, section "Training on MVK-mini".
    """
    import cv2


    df = load_frame_labels(root)
    df = df[df["split"] == split]
    df = df[df["selected"]] if selected_only else df[df["frame_index"] % every == 0]
    df = df.reset_index(drop=True)
    if df.empty:
        raise ValueError(f"{root}: no {split} frames to load")
    H, W = SIDE_SIZE
    imgs, labs = [], []
    for fp, sp in zip(df["frame_path"], df["semantic_path"]):
        bgr = cv2.imread(str(fp), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{fp}: cannot read the frame")
        rgb = cv2.resize(bgr[:, :, ::-1], (W, H), interpolation=cv2.INTER_AREA)
        imgs.append(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1))
        lab = cv2.resize(read_mask(sp), (W, H), interpolation=cv2.INTER_NEAREST)
        labs.append(torch.from_numpy(lab))
    return torch.stack(imgs), torch.stack(labs), df


def training_labels(
    labels: Tensor, classes: list[str], held_out: str, void_background: bool = False
) -> tuple[Tensor, list[str]]:
    """Remap class ids to the training classes; the held-out class becomes 255 (ignored).

    With ``void_background`` the background has no text: it becomes id K (the "no
    object" class) and the training names are the animals only.

    Book: ch06, section "Training on MVK-mini".
    """
    if held_out not in classes or held_out == "background":
        raise ValueError(f"held_out: expected an animal class name, got {held_out!r}")
    drop = {held_out, "background"} if void_background else {held_out}
    train_names = [c for c in classes if c not in drop]
    lut = torch.full((256,), 255, dtype=torch.uint8)
    for i, c in enumerate(classes):
        if c == "background" and void_background:
            lut[i] = len(train_names)
        elif c != held_out:
            lut[i] = train_names.index(c)
    return lut[labels.long()], train_names


def _rng_state(g: torch.Generator) -> dict:
    """Every RNG state as tensors and plain types (loadable with weights_only=True)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return dict(
        torch=torch.get_rng_state(),
        gen=g.get_state(),
        python=random.getstate(),
        numpy=[name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
    )


def _set_rng_state(state: dict, g: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    g.set_state(state["gen"])
    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def _lr(step: int, steps: int, lr: float, warmup: int = 30) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    return 0.5 * lr * (1 + math.cos(math.pi * step / max(1, steps)))


def trainable_state(model: SAN, extras: dict) -> dict:
    """What training changes: the side network's state dict, the "no object" logit
    ``void_logit`` and the log of the similarity scale ``log_scale``.

    Book: ch06, section "Training on MVK-mini".
    """
    sd = {
        f"side_adapter_network.{k}": v
        for k, v in model.side_adapter_network.state_dict().items()
    }
    sd.update({k: v.detach().clone() for k, v in extras.items()})
    return sd


def train_san(
    model: SAN,
    text_emb: Tensor,
    images: Tensor,
    labels: Tensor,
    *,
    steps: int,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    logit_scale: float = 20.0,
    checkpoint: Path | None = None,
    save_every: int = 100,
    stop_after: int | None = None,
    progress: bool = False,
    tag: str = "",
) -> tuple[dict, dict]:
    """Train the side network; returns (extras, info). CLIP stays frozen.

    ``extras`` holds the two trained scalars: ``void_logit`` ("no object") and
    ``log_scale``, the log of the scale of text-embedding cosines (starting at
    ``logit_scale``, CLIP's own, capped at 100 as in CLIP).

    ``labels`` (N, H, W) hold training class ids (indices into ``text_emb`` rows) or
    255. With ``checkpoint``, training resumes from it when it exists and saves it every
    ``save_every`` steps; ``stop_after`` ends the run early (a simulated interruption).
    ``tag`` (e.g. the command line) is stored and must match when resuming.
    Book: ch06, section "Training on MVK-mini".
    """
    model.freeze_clip()
    extras = dict(
        void_logit=torch.zeros(()), log_scale=torch.tensor(math.log(logit_scale))
    )
    for v in extras.values():
        v.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad] + list(extras.values())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    step, losses, seconds = 0, [], 0.0
    if checkpoint is not None and Path(checkpoint).is_file():
        ck = torch.load(checkpoint, weights_only=True, map_location="cpu")
        if ck.get("tag") != tag:
            raise ValueError(
                f"{checkpoint}: a checkpoint of another run ({ck.get('tag')!r}); "
                f"remove it or pass another --checkpoint"
            )
        model.load_state_dict(ck["model"], strict=False)
        with torch.no_grad():
            for k, v in extras.items():
                v.copy_(ck["model"][k])
        opt.load_state_dict(ck["optimizer"])
        _set_rng_state(ck["rng"], g)
        step, losses, seconds = ck["step"], ck["losses"], ck["seconds"]
    K = text_emb.shape[0]
    model.train()
    t0 = time.perf_counter() - seconds
    while step < steps and (stop_after is None or step < stop_after):
        idx = torch.randint(len(images), (batch_size,), generator=g)
        flip = torch.rand(batch_size, generator=g) < 0.5
        x, y = normalize_images(images[idx]), labels[idx].long()
        x[flip], y[flip] = x[flip].flip(-1), y[flip].flip(-1)
        y = F.interpolate(y[:, None].float(), size=LABEL_SIZE, mode="nearest")[
            :, 0
        ].long()
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps, lr)
        masks, embs, _ = model.forward_all(x)
        loss = sum(
            set_criterion(
                F.interpolate(m, size=LABEL_SIZE, mode="bilinear", align_corners=False),
                class_logits(
                    e,
                    text_emb,
                    extras["log_scale"].exp().clamp(max=100),
                    extras["void_logit"],
                ),
                y,
                K,
            )
            for m, e in zip(masks, embs)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(round(loss.item(), 5))
        step += 1
        if progress and step % 20 == 0:
            print(
                f"step {step}/{steps} loss {sum(losses[-20:]) / 20:.3f} "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
        if checkpoint is not None and (step % save_every == 0 or step == steps):
            ck = dict(
                model=trainable_state(model, extras),
                optimizer=opt.state_dict(),
                rng=_rng_state(g),
                step=step,
                losses=losses,
                tag=tag,
                seconds=time.perf_counter() - t0,
            )
            with atomic_path(checkpoint) as tmp:
                torch.save(ck, tmp)
    model.eval()
    tail = losses[-20:] or [float("nan")]
    info = dict(
        steps=step,
        seconds=round(time.perf_counter() - t0, 1),
        final_loss=round(sum(tail) / len(tail), 4),
    )
    return {k: v.detach() for k, v in extras.items()}, info


@torch.no_grad()
def predict_san(
    model: SAN,
    images: Tensor,
    text_emb: Tensor,
    logit_scale: float,
    void_logit: Tensor | float,
    batch_size: int = 32,
    void_background: bool = False,
) -> Tensor:
    """Class id per pixel (N, H, W) from SAN's proposals and their CLIP classes.

    Ids index the rows of ``text_emb``; with ``void_background`` the id K (one past
    the texts) is the "no object" score, used as the background.

    Book: ch06, section "From proposals to a segmentation".
    """
    model.eval()
    out = []
    for s in range(0, len(images), batch_size):
        x = normalize_images(images[s : s + batch_size])
        mask, emb = model(x)
        sem = semantic_logits(
            mask, emb, text_emb, logit_scale, x.shape[-2:], void_logit, void_background
        )
        out.append(sem.argmax(1))  # (B, H, W)
    return torch.cat(out)


def segment(model: SAN, images: Tensor, bundle, extras: dict, classes: list[str]):
    """Class ids (N, H, W) indexing ``classes`` (``classes[0]`` = background).

    Uses the background mode the model was trained with (``extras["background"]``:
    ``"text"``, a prompt ensemble, or ``"void"``, the "no object" class).

    Book: ch06, section "From proposals to a segmentation".
    """
    void = extras.get("background", "text") == "void"
    names = classes[1:] if void else classes
    text = text_embeddings(bundle, names)
    pred = predict_san(
        model,
        images,
        text,
        extras["logit_scale"],
        extras["void_logit"],
        void_background=void,
    )
    if void:  # texts are classes[1:], channel K is the background
        pred = torch.where(pred == len(names), 0, pred + 1)
    return pred


@torch.no_grad()
def predict_clip_alone(
    model: SAN, images: Tensor, text_emb: Tensor, batch_size: int = 32
) -> Tensor:
    """Baseline without the side network: CLIP's own final patch tokens vs the texts.

    Each patch token after CLIP's last block goes through ``ln_post`` and ``proj``
    (what CLIP does to its class token); its class is the most similar text. The
    (h, w) similarity maps are upsampled bilinearly to the image.
    Book: ch06, section "What SAN adds: the numbers".
    """
    model.eval()
    head, out = model.clip_rec_head, []
    for s in range(0, len(images), batch_size):
        x = normalize_images(images[s : s + batch_size])
        feats = model.clip_features(x)
        pix = feats[head.first_layer_idx]  # (B, C, h, w)
        B, C, h, w = pix.shape
        t = torch.cat(
            [
                feats[f"{head.first_layer_idx}_cls_token"][:, None],
                pix.flatten(2).transpose(1, 2),
            ],
            dim=1,
        )  # (B, 1+L, C)
        for block in head.resblocks:
            t = block(t)
        emb = F.normalize(head.ln_post(t[:, 1:]) @ head.proj, dim=-1)  # (B, L, D)
        sim = (emb @ text_emb.T).transpose(1, 2).reshape(B, -1, h, w)  # (B, K, h, w)
        sim = F.interpolate(
            sim, size=x.shape[-2:], mode="bilinear", align_corners=False
        )
        out.append(sim.argmax(1))
    return torch.cat(out)


def iou_table(pred: Tensor, target: Tensor, names: list[str]) -> dict:
    """Per-class IoU over all frames together (classes absent from the target: None).

    Book: ch06, section "What SAN adds: the numbers".
    """
    out = {}
    for k, name in enumerate(names):
        p, t = pred == k, target == k
        union = (p | t).sum().item()
        out[name] = (
            None if t.sum().item() == 0 else round((p & t).sum().item() / union, 4)
        )
    return out


def load_san_tiny(path: str | Path = WEIGHTS) -> tuple[SAN, dict]:
    """The shipped tiny SAN around the shipped tiny CLIP, in eval mode.

    Returns (model, extras) where extras has ``void_logit``, ``logit_scale``, the CLIP
    bundle (``clip``: for its text encoder) and ``meta`` (the sidecar JSON).
    Book: ch06, section "Training on MVK-mini".
    """
    import json
    import warnings


    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: SAN weights missing; make them with `mvk train san`"
        )
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    bundle = load_clip()
    if meta.get("clip_sha256") != file_sha256(TINY_CLIP_WEIGHTS):
        warnings.warn(
            f"{path}: trained on another clip_tiny_mvk; retrain with `mvk train san`"
        )
    model = san_from_clip(bundle.model.visual.float(), **TINY_SAN).eval()
    sd = torch.load(path, weights_only=True, map_location="cpu")
    void = sd.pop("void_logit").float()
    scale = min(100.0, sd.pop("log_scale").float().exp().item())
    missing, unexpected = model.load_state_dict(
        {k: v.float() for k, v in sd.items()}, strict=False
    )
    if unexpected or any(k.startswith("side_adapter_network.") for k in missing):
        raise ValueError(
            f"{path}: weights do not fit the tiny SAN ({unexpected or missing})"
        )
    return model, dict(
        void_logit=void,
        logit_scale=scale,
        clip=bundle,
        meta=meta,
        background=meta.get("background", "text"),
    )


def evaluate_san(
    model: SAN,
    bundle,
    extras: dict,
    images: Tensor,
    labels: Tensor,
    classes: list[str],
    held_out: str,
) -> dict:
    """mIoU of SAN and of CLIP alone on (unseen) frames, all class names given.

    Returns per-class IoU tables, the mean over the seen classes (background
    included), and the held-out class's IoU. CLIP alone names the background with
    the prompt ensemble (it has no "no object" class).

    Book: ch06, section "What SAN adds: the numbers".
    """
    out = {}
    for name, pred in (
        ("san", segment(model, images, bundle, extras, classes)),
        (
            "clip_alone",
            predict_clip_alone(model, images, text_embeddings(bundle, classes)),
        ),
    ):
        table = iou_table(pred, labels.long(), classes)
        seen = [v for k, v in table.items() if k != held_out and v is not None]
        out[name] = dict(
            iou=table,
            miou_seen=round(sum(seen) / len(seen), 4),
            iou_held_out=table[held_out],
            miou_all=round(
                sum(v for v in table.values() if v is not None)
                / sum(v is not None for v in table.values()),
                4,
            ),
        )
    return out
