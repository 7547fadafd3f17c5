"""Train the tiny CLIP (``clip_tiny_mvk``) on MVK-mini frames and captions (``mvk train clip``).

The contrastive objective of CLIP (Radford et al. 2021, arXiv 2103.00020):

> Given a batch of N (image, text) pairs, CLIP is trained to predict which of the
> N x N possible (image, text) pairings across a batch actually occurred ... maximize
> the cosine similarity of the image and text embeddings of the N real pairs while
> minimizing the cosine similarity of the embeddings of the N^2 - N incorrect pairings.
> We optimize a symmetric cross entropy loss over these similarity scores.

Training pairs: every frame of a *training world*, an MVK-mini collection generated with
another seed (1) and many short videos (384 scenes of 6 frames: variety matters more
than frames), each frame with one of its three captions (expert 0.7, automatic 0.2,
novice 0.1). The book's collection (seed 0) is never seen in training; it is measured at
the end: known-item search over all its selected frames, each frame a target once.

Book: ch10, section "CLIP: one space for images and texts".
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F
from tqdm import tqdm

from mvk_tutorial.mvk.synthetic import (
    GENERATOR_VERSION,
    MiniConfig,
    default_cache_dir,
    ensure_mvk_mini,
    generate_mvk_mini,
    load_captions,
    load_frame_labels,
)
from mvk_tutorial.retrieval.clip import TINY_CLIP, TINY_CLIP_WEIGHTS, register_tiny_clip
from mvk_tutorial.retrieval.embed import decode_image
from mvk_tutorial.retrieval.kis import found_within, kis_experiment, rank_summary
from mvk_tutorial.utils import atomic_path, atomic_write, seed_everything

CAPTION_MIX = {"expert": 0.7, "automatic": 0.2, "novice": 0.1}


def clip_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric cross entropy over the (B, B) cosine-similarity logits.

    ``image_emb`` and ``text_emb`` are (B, D) and L2-normalised; pair i is the positive
    of row i and column i. Book: ch10, section "CLIP: one space for images and texts".
    """
    logits = logit_scale.exp() * image_emb @ text_emb.T  # (B, B): images x texts
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


TRAIN_WORLD = dict(sites=8, videos_per_site=48, min_frames=6, max_frames=6, seed=1)


def ensure_train_world(height: int = 256, width: int = 448) -> Path:
    """The MVK-mini training collection (seed 1, 384 videos of 6 frames), made once."""
    name = f"mvk_mini_clip_train_s1_{height}x{width}_g{GENERATOR_VERSION}"
    out = default_cache_dir() / name
    if (out / "mvk_mini.json").is_file():
        return out
    config = MiniConfig(height=height, width=width, **TRAIN_WORLD)
    return generate_mvk_mini(out, config, preset="clip_train", exist_ok=True)


def load_pairs(root: Path, preprocess, split: str | None = None):
    """Preprocessed frames (F, 3, H, W) float16 and their caption table (one split or all)."""
    df = load_frame_labels(root)
    if split is not None:
        df = df[df["split"] == split]
    df = df.reset_index(drop=True)
    images = torch.stack(
        [
            preprocess(decode_image(p)).half()
            for p in tqdm(df["frame_path"], desc=f"decode {split} frames", unit="frame")
        ]
    )  # (F, 3, H, W)
    return images, df


def _lr(step: int, progress: float, lr: float, warmup: int = 20) -> float:
    """Linear warm-up, then cosine decay over ``progress`` in [0, 1]."""
    if step < warmup:
        return lr * (step + 1) / warmup
    return 0.5 * lr * (1 + math.cos(math.pi * min(1.0, progress)))


def train(
    model,
    tokenizer,
    images,
    df,
    *,
    max_steps: int,
    seconds: float | None,
    batch_size: int,
    lr: float,
    seed: int,
    caption_mix: dict[str, float] | None = None,
) -> dict:
    """Run the contrastive training loop; returns {steps, seconds, final_loss}.

    ``caption_mix`` (default :data:`CAPTION_MIX`) gives the probability of each caption
    style for a training pair (``--caption-mix`` of ``mvk train clip``).

    With ``seconds=None`` (the default of ``mvk train clip``) only the step budget
    counts, so a rerun with the same seed and thread count gives the same weights; a
    time budget makes the run stop (and its learning-rate decay) depend on the machine.
    """
    g = torch.Generator().manual_seed(seed)
    caption_mix = dict(CAPTION_MIX if caption_mix is None else caption_mix)
    kinds = [k for k in CAPTION_MIX if caption_mix.get(k, 0) > 0]
    tokens = {k: tokenizer(df[k].tolist()) for k in kinds}  # each (F, context)
    mix = torch.tensor([float(caption_mix[k]) for k in kinds])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    model.train()
    t0, losses, step = time.perf_counter(), [], 0
    bar = tqdm(
        total=max_steps if max_steps < 10**9 else None, desc="train clip", unit="step"
    )
    budget = float("inf") if seconds is None else seconds
    while step < max_steps and time.perf_counter() - t0 < budget:
        idx = torch.randperm(len(df), generator=g)[:batch_size]  # (B,)
        kind = torch.multinomial(mix, len(idx), replacement=True, generator=g)  # (B,)
        text = torch.stack(
            [tokens[kinds[k]][i] for k, i in zip(kind.tolist(), idx.tolist())]
        )
        # the budget that runs out first (steps or seconds) drives the cosine decay
        progress = max(step / max_steps, (time.perf_counter() - t0) / budget)
        for group in opt.param_groups:
            group["lr"] = _lr(step, progress, lr)
        img_emb = model.encode_image(images[idx].float(), normalize=True)  # (B, D)
        txt_emb = model.encode_text(text, normalize=True)  # (B, D)
        loss = clip_loss(img_emb, txt_emb, model.logit_scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(loss.item())
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
    bar.close()
    model.eval()
    tail = losses[-20:] or [float("nan")]
    return {
        "steps": step,
        "seconds": round(time.perf_counter() - t0, 1),
        "final_loss": round(sum(tail) / len(tail), 4),
    }


@torch.inference_mode()
def evaluate(model, tokenizer, preprocess, root: Path) -> dict:
    """KIS over all selected frames of ``root``, every frame a target once per query type."""
    caps = load_captions(root)
    imgs = torch.stack([preprocess(decode_image(p)) for p in caps["frame_path"]])
    frame_emb = torch.cat(
        [
            model.encode_image(imgs[s : s + 128], normalize=True)
            for s in range(0, len(imgs), 128)
        ]
    )  # (N, D)
    targets = torch.arange(len(caps))
    queries = {
        kind: (model.encode_text(tokenizer(caps[kind].tolist()), normalize=True), targets)
        for kind in CAPTION_MIX
    }  # each (N, D) with its (N,) targets
    rows = kis_experiment(queries, frame_emb, list(caps["frame_path"]))
    out = {"collection_frames": len(caps)}
    for kind in CAPTION_MIX:
        ranks = torch.tensor([r["rank"] for r in rows if r["query_type"] == kind])
        found = found_within(ranks, [1, 10])
        out[kind] = {
            "median_rank": rank_summary(ranks)["median"],
            "recall@1": round(found[1], 3),
            "recall@10": round(found[10], 3),
        }
    return out


def parse_caption_mix(text: str | None) -> dict[str, float]:
    """``"automatic=1"`` or ``"expert=0.7,automatic=0.2,novice=0.1"`` -> a mix summing to 1.

    Book: ch10, section "Which captions did the model learn from?".
    """
    if not text:
        return dict(CAPTION_MIX)
    mix = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or name not in CAPTION_MIX or not math.isfinite(weight) or weight < 0:
            raise ValueError(
                f"--caption-mix {text!r}: expected comma-separated style=weight pairs "
                f"with styles from {sorted(CAPTION_MIX)} and weights >= 0"
            )
        mix[name] = weight
    total = sum(mix.values())
    if total <= 0:
        raise ValueError(f"--caption-mix {text!r}: the weights sum to 0")
    return {k: mix.get(k, 0.0) / total for k in CAPTION_MIX}


def _sidecar(out: Path, argv: list[str], args, info: dict, metrics: dict) -> str:
    n = metrics["collection_frames"]
    lines = [
        f"# {out.stem}: tiny CLIP trained on MVK-mini",
        "",
        f"- command: `mvk train clip {' '.join(argv)}`".rstrip(),
        f"- seed: {args.seed}; training data: an MVK-mini world generated with "
        f"`MiniConfig(**{TRAIN_WORLD})` at 256x448, generator version "
        f"{GENERATOR_VERSION} (every frame, caption mix "
        f"{parse_caption_mix(getattr(args, 'caption_mix', None))}); never the book's "
        "collection",
        f"- architecture: `{TINY_CLIP}` (mvk_tutorial/weights/{TINY_CLIP}.json), "
        "weights stored in fp16",
        f"- steps: {info['steps']}, batch {args.batch_size}, AdamW lr {args.lr} cosine, "
        f"{info['seconds']} s on {args.threads} CPU thread(s); final loss "
        f"{info['final_loss']}",
        "",
        f"## Held-out metrics: KIS on MVK-mini preset `{args.preset}` (not seen in "
        f"training), {n} selected frames, each the target of one query per type",
        "",
        f"| query | median rank (chance {(n - 1) / 2:g}) | recall@1 | recall@10 |",
        "|---|---|---|---|",
    ]
    for kind in CAPTION_MIX:
        m = metrics[kind]
        lines.append(
            f"| {kind} | {m['median_rank']:g} | {m['recall@1']} | {m['recall@10']} |"
        )
    return "\n".join(lines) + "\n"


def train_clip_cli(args: argparse.Namespace) -> int:
    """``mvk train clip``: train, evaluate, write the weights and their sidecar ``.md``."""
    mix = parse_caption_mix(getattr(args, "caption_mix", None))  # fail before training
    torch.set_num_threads(args.threads)  # 1 is fastest on a busy 2-core machine
    seed_everything(args.seed)
    register_tiny_clip()
    root = ensure_mvk_mini(args.preset)
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_CLIP)
    tokenizer = open_clip.get_tokenizer(TINY_CLIP)
    images, df = load_pairs(ensure_train_world(), preprocess)
    max_steps = args.max_steps or 10**9
    info = train(
        model,
        tokenizer,
        images,
        df,
        max_steps=max_steps,
        seconds=args.seconds,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        caption_mix=mix,
    )
    metrics = evaluate(model, tokenizer, preprocess, root)
    out = Path(args.out) if args.out else TINY_CLIP_WEIGHTS
    with atomic_path(out) as tmp:
        torch.save({k: v.half() for k, v in model.state_dict().items()}, tmp)
    argv = (
        sys.argv[3:] if len(sys.argv) > 3 and sys.argv[1:3] == ["train", "clip"] else []
    )
    atomic_write(out.with_suffix(".md"), _sidecar(out, argv, args, info, metrics))
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB); {info}")
    print(metrics)
    return 0
