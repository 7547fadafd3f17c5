"""``mvk train san``: train the tiny SAN on MVK-mini and write its weights and sidecar.

    mvk train san [--steps 600] [--batch-size 16] [--lr 1e-3] [--seed 0] [--threads 1]
                  [--held-out jellyfish] [--background text] [--frame-every 4]
                  [--checkpoint PATH] [--out PATH]

Book: ch06, section "Training on MVK-mini".
"""

from __future__ import annotations

import shlex
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "weights" / "san_tiny_mvk.pt"


def _command(args) -> str:
    cmd = (
        f"mvk train san --steps {args.steps} --batch-size {args.batch_size} "
        f"--lr {args.lr} --seed {args.seed} --threads {args.threads} "
        f"--held-out {shlex.quote(args.held_out)} --frame-every {args.frame_every}"
    )
    if args.background != "text":  # the default needs no flag
        cmd += f" --background {args.background}"
    if Path(args.out).resolve() != DEFAULT_OUT:
        cmd += f" --out {shlex.quote(str(args.out))}"
    return cmd


def _sidecar_md(meta: dict) -> str:
    ev, lines = meta["metrics"], []
    lines += [
        "# san_tiny_mvk: a tiny SAN on the frozen clip_tiny_mvk",
        "",
        f"- command: `{meta['command']}`",
        f"- seed: {meta['seed']}; data: MVK-mini preset `{meta['preset']}`, generator "
        f"version {meta['generator_version']}, {meta['train_frames']} frames (every "
        f"{meta['frame_every']}th) of the {meta['train_videos']} `train` videos",
        f"- held-out class (never a training label, its pixels ignored): "
        f"**{meta['held_out']}**",
        "- background: "
        + (
            "learned as SAN's 'no object' class (no background text)"
            if meta["background"] == "void"
            else "named by a prompt ensemble"
        ),
        f"- frozen CLIP: clip_tiny_mvk, sha256 `{meta['clip_sha256']}`",
        f"- steps {meta['steps']}, batch {meta['batch_size']}, AdamW lr {meta['lr']} "
        f"cosine, {meta['seconds']} s on {meta['threads']} CPU thread(s); final loss "
        f"{meta['final_loss']}; {meta['trainable_params']} trainable parameters",
        "",
        f"## Measured on {meta['eval_frames']} selected frames of the "
        f"{meta['eval_videos']} unseen `val` videos (all {len(meta['classes'])} class "
        "names given), IoU",
        "",
        "| class | SAN | CLIP alone |",
        "|---|---|---|",
    ]
    for c in meta["classes"]:
        a, b = ev["san"]["iou"][c], ev["clip_alone"]["iou"][c]
        tag = " (held out)" if c == meta["held_out"] else ""
        lines.append(f"| {c}{tag} | {a} | {b} |")
    lines += [
        f"| **mIoU, seen classes** | {ev['san']['miou_seen']} | {ev['clip_alone']['miou_seen']} |",
        f"| **IoU, held-out class** | {ev['san']['iou_held_out']} | "
        f"{ev['clip_alone']['iou_held_out']} |",
        f"| **mIoU, all classes** | {ev['san']['miou_all']} | {ev['clip_alone']['miou_all']} |",
    ]
    return "\n".join(lines) + "\n"


def _cmd_train_san(args) -> int:
    import json

    import torch

    from mvk_tutorial.attention import train_san as ts
    from mvk_tutorial.mvk.synthetic import CLASSES, GENERATOR_VERSION, ensure_mvk_mini
    from mvk_tutorial.retrieval.clip import TINY_CLIP_WEIGHTS, load_clip
    from mvk_tutorial.utils import atomic_path, atomic_write, seed_everything

    if args.steps < 1 or args.batch_size < 1 or args.frame_every < 1:
        raise ValueError(
            "--steps, --batch-size and --frame-every: expected positive integers"
        )
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    root = ensure_mvk_mini(args.preset)
    images, labels, df = ts.load_frames(root, "train", args.frame_every)
    void_bg = args.background == "void"
    y, train_names = ts.training_labels(labels, list(CLASSES), args.held_out, void_bg)
    bundle = load_clip()
    bundle.model.float()
    model = ts.san_from_clip(bundle.model.visual, **ts.TINY_SAN)
    scale = bundle.model.logit_scale.exp().item()
    text = ts.text_embeddings(bundle, train_names)
    ckpt = (
        Path(args.checkpoint)
        if args.checkpoint
        else Path(args.out).with_suffix(".ckpt")
    )
    extras, info = ts.train_san(
        model,
        text,
        images,
        y,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        logit_scale=scale,
        checkpoint=ckpt,
        progress=True,
        tag=_command(args),
    )
    ev_images, ev_labels, ev_df = ts.load_frames(root, "val", 1, selected_only=True)
    void = extras["void_logit"]
    trained_scale = min(100.0, extras["log_scale"].exp().item())
    ev_extras = dict(
        void_logit=void, logit_scale=trained_scale, background=args.background
    )
    metrics = ts.evaluate_san(
        model,
        bundle,
        ev_extras,
        ev_images,
        ev_labels,
        list(CLASSES),
        args.held_out,
    )
    out = Path(args.out)
    with atomic_path(out) as tmp:
        torch.save(ts.trainable_state(model, extras), tmp)
    meta = dict(
        command=_command(args),
        seed=args.seed,
        preset=args.preset,
        generator_version=GENERATOR_VERSION,
        frame_every=args.frame_every,
        train_frames=len(df),
        train_videos=int(df["seq"].nunique()),
        eval_frames=len(ev_df),
        eval_videos=int(ev_df["seq"].nunique()),
        held_out=args.held_out,
        background=args.background,
        classes=list(CLASSES),
        train_classes=train_names,
        clip_sha256=ts.file_sha256(TINY_CLIP_WEIGHTS),
        architecture=ts.TINY_SAN,
        clip_logit_scale=round(scale, 4),
        logit_scale=round(trained_scale, 4),
        void_logit=round(void.item(), 4),
        steps=info["steps"],
        batch_size=args.batch_size,
        lr=args.lr,
        threads=args.threads,
        seconds=info["seconds"],
        final_loss=info["final_loss"],
        trainable_params=sum(p.numel() for p in model.side_adapter_network.parameters())
        + 2,
        metrics=metrics,
    )
    atomic_write(out.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    atomic_write(out.with_suffix(".md"), _sidecar_md(meta))
    ckpt.unlink(missing_ok=True)  # finished: the checkpoint has served
    print(
        f"wrote {out} ({out.stat().st_size / 2**20:.2f} MB) and its .json/.md sidecars"
    )
    for name in ("san", "clip_alone"):
        m = metrics[name]
        print(
            f"{name}: mIoU seen {m['miou_seen']}, IoU {args.held_out} (held out) "
            f"{m['iou_held_out']}, mIoU all {m['miou_all']}"
        )
    return 0


def register(groups) -> None:
    """Add ``mvk train san`` to the ``mvk`` groups (see ``mvk_tutorial.cli``)."""
    p = groups["train"].add_parser(
        "san",
        help="train the tiny SAN on MVK-mini semantic masks (ch06)",
        description="Train the side network of a tiny SAN around the frozen shipped "
        "tiny CLIP, with one class held out of the training labels; measure mIoU on "
        "unseen videos against CLIP alone; write weights and .json/.md sidecars.",
    )
    p.add_argument("--preset", default="book", help="MVK-mini preset (book, test)")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="CPU threads")
    p.add_argument(
        "--held-out", default="jellyfish", help="class never used as a label"
    )
    p.add_argument(
        "--background",
        choices=("void", "text"),
        default="text",
        help="background as SAN's 'no object' class (void) or a prompt ensemble (text)",
    )
    p.add_argument(
        "--frame-every", type=int, default=4, help="use every n-th train frame"
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="resumable checkpoint (default: OUT with suffix .ckpt)",
    )
    p.add_argument("--out", default=str(DEFAULT_OUT), help="weights file (.pt)")
    p.set_defaults(func=_cmd_train_san)
