"""``mvk train deaot`` / ``mvk train aot``: train a VOS network on MVK-mini (or DAVIS).

    mvk train deaot --out RUN_DIR [--model deaot-mini] [--steps N] [--data-seed 1]
                    [--export mvk_tutorial/weights/deaot_mini_mvk.pt]
    torchrun --nproc_per_node 2 -m mvk_tutorial.cli train deaot --out RUN_DIR ...

Re-running the same command resumes from ``RUN_DIR/checkpoint.pt``. With ``--export``
the trained network is scored on the ``val`` videos of MVK-mini generated with
``--eval-seed`` (never used in training) and shipped with a sidecar.

Book: ch08, section "Training DeAOT on MVK-mini".
"""

from __future__ import annotations

import shlex
import sys


def _cmd(args, family: str) -> int:
    import torch

    from mvk_tutorial.vos.train import TrainConfig, train
    from mvk_tutorial.vos.train_data import mvk_mini_collection

    torch.set_num_threads(args.threads)
    if args.davis_root:
        davis, data = args.davis_root, {"davis_root": str(args.davis_root)}
    else:
        from mvk_tutorial.mvk.synthetic import GENERATOR_VERSION

        seeds = parse_seeds(args.data_seed)
        if args.eval_seed in seeds:
            raise ValueError(
                f"--data-seed {args.data_seed}: includes --eval-seed {args.eval_seed}; "
                "the evaluation videos must be ones the model never saw"
            )
        davis = [mvk_mini_collection(s, args.preset) / "DAVIS" for s in seeds]
        data = {
            "dataset": "MVK-mini",
            "preset": args.preset,
            # one seed stays an int, as in the sidecars written before lists existed
            "generator_seed": seeds[0] if len(seeds) == 1 else seeds,
            "generator_version": GENERATOR_VERSION,
            "split": args.split,
        }
    model_name = args.model or f"{family}-mini"
    cfg = TrainConfig(
        model=model_name,
        steps=args.steps,
        batch_size=args.batch_size,
        clip_len=args.clip_len,
        crop=(args.crop, args.crop_width or args.crop),
        scale=(args.scale_min, args.scale_max),
        init_from=args.init_from,
        multi_object=args.multi_object,
        lr=args.lr,
        warmup=args.warmup,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
    )
    result = train(
        cfg, davis, args.out, split=args.split, progress=not args.no_progress,
        data_info=data,
    )
    print(
        f"{model_name}: {result['steps']} steps, {result['steps_this_run']} in this run "
        f"({result['s_per_step']:.2f} s/step, world size {result['world_size']})"
    )
    if args.export and result["steps"] == cfg.steps and int(
        __import__("os").environ.get("RANK", "0")
    ) == 0:
        from dataclasses import asdict

        from mvk_tutorial.vos.train_data import mvk_mini_collection as coll
        from mvk_tutorial.vos.train_eval import evaluate_model, export_weights

        model = result["model"].cpu().eval()
        eval_root = coll(args.eval_seed, args.preset) / "DAVIS"
        scores = evaluate_model(model, eval_root, "val")
        from mvk_tutorial.mvk.synthetic import GENERATOR_VERSION

        sidecar = {
            "model": model_name,
            "params": sum(p.numel() for p in model.parameters()),
            "command": "mvk " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "seed": args.seed,
            "data": data,
            "train": dict(asdict(cfg), wall_s_last_run=round(result["wall_s"], 1),
                          wall_s_total=None if result["wall_s_total"] is None
                          else round(result["wall_s_total"], 1),
                          threads=args.threads),
            "eval_data": {
                "dataset": "MVK-mini", "preset": args.preset, "split": "val",
                "generator_seed": args.eval_seed, "generator_version": GENERATOR_VERSION,
                "note": "videos of a generator seed never used in training",
            },
            "eval": {k: scores[k] for k in ("global", "per_sequence", "sequences", "frames")},
            "eval_fps_cpu": round(scores["fps"], 2),
        }
        if args.init_from:  # fine-tuned: record where the start weights came from
            import hashlib
            import json
            from pathlib import Path

            init = Path(args.init_from)
            sidecar["init_from"] = {
                "file": init.name,
                "sha256": hashlib.sha256(init.read_bytes()).hexdigest(),
            }
            if init.with_suffix(".json").is_file():
                prev = json.loads(init.with_suffix(".json").read_text("utf-8"))
                sidecar["init_from"]["sidecar"] = {
                    k: prev.get(k)
                    for k in ("command", "seed", "data", "train", "eval", "init_from")
                    if k in prev
                }  # with the earlier stage's own init_from: the whole chain of stages
        export_weights(model, args.export, sidecar)
        g = scores["global"]
        print(f"wrote {args.export}: J&F {g['J&F-Mean']:.3f} (J {g['J-Mean']:.3f}, "
              f"F {g['F-Mean']:.3f}) on {scores['sequences']} unseen videos")
    return 0


def parse_seeds(text: str) -> list[int]:
    """``"1"`` -> [1]; ``"1,3,4"`` -> [1, 3, 4] (MVK-mini generator seeds, pooled).

    Book: ch08, section "Training DeAOT on MVK-mini".
    """
    try:
        seeds = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"--data-seed: expected a seed >= 0 or distinct seeds separated by commas "
            f"(e.g. 1,3,4), got {text!r}"
        )
    return seeds


def register(groups) -> None:
    """Add ``mvk train deaot`` and ``mvk train aot`` (see ``mvk_tutorial.cli``)."""
    for family in ("deaot", "aot"):
        p = groups["train"].add_parser(
            family,
            help=f"train {family.upper()} for VOS on MVK-mini (ch08)",
            description=f"Train a {family.upper()} network on clips of MVK-mini (or a "
            "DAVIS folder); resumes from OUT/checkpoint.pt.",
        )
        p.add_argument("--out", required=True, help="run folder (checkpoints, log)")
        p.add_argument("--model", default=None, help=f"config (default {family}-mini)")
        p.add_argument("--steps", type=int, default=2000)
        p.add_argument("--batch-size", type=int, default=4)
        p.add_argument("--clip-len", type=int, default=5)
        p.add_argument("--crop", type=int, default=129, help="crop side (16k+1)")
        p.add_argument("--crop-width", type=int, default=None,
                       help="crop width (16k+1; default: --crop)")
        p.add_argument("--scale-min", type=float, default=0.5,
                       help="smallest clip rescale factor (of the frame size)")
        p.add_argument("--scale-max", type=float, default=1.0)
        p.add_argument("--init-from", default=None,
                       help="start from these weights (plain state_dict .pt)")
        p.add_argument("--multi-object", type=float, default=0.0,
                       help="fraction of clips that start on a frame with >= 2 objects, "
                       "cropped to keep the most in view (object-aware sampling)")
        p.add_argument("--lr", type=float, default=1e-3)
        p.add_argument("--warmup", type=int, default=100)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--checkpoint-every", type=int, default=50)
        p.add_argument("--preset", default="book", help="MVK-mini preset sizes")
        p.add_argument("--data-seed", default="1",
                       help="MVK-mini generator seed(s) of the training videos: 1, or "
                       "several pooled, e.g. 1,3,4")
        p.add_argument("--split", default="train,val", help="image sets to train on")
        p.add_argument("--davis-root", default=None,
                       help="train on this DAVIS-layout folder instead of MVK-mini")
        p.add_argument("--eval-seed", type=int, default=0,
                       help="generator seed of the unseen evaluation videos")
        p.add_argument("--export", default=None,
                       help="after training, score and write shipped weights here")
        p.add_argument("--threads", type=int, default=1, help="CPU threads")
        p.add_argument("--no-progress", action="store_true")
        p.set_defaults(func=lambda a, f=family: _cmd(a, f))
