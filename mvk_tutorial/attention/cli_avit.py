"""``mvk train avit``: fine-tune the shipped tiny ViT into a tiny A-ViT (ch05).

    mvk train avit [--preset book] [--epochs 20] [--seed 0] [--threads 1] [--out PATH]

Book: ch05, section "Fine-tuning the tiny ViT".
"""

from __future__ import annotations

import shlex
from pathlib import Path

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_OUT = WEIGHTS / "avit_tiny_mvk.pt"
DEFAULT_VIT = WEIGHTS / "vit_tiny_mvk.pt"

# flag name -> AViTTrainConfig field, type
_OPTIONS = {
    "epochs": int, "batch_size": int, "lr": float, "gate_scale": float,
    "gate_center": float, "ponder_scale": float, "distr_prior_alpha": float,
    "target_depth": float, "cls_ponder_scale": float, "distill_alpha": float,
    "distill_temperature": float, "zoom": float, "paste": float, "paste_shift": float,
    "seed": int, "threads": int,
}  # fmt: skip


def _cmd_train_avit(args) -> int:
    from mvk_tutorial.attention.avit_train_config import AViTTrainConfig
    from mvk_tutorial.attention.cli import check_augmentation_args
    from mvk_tutorial.attention.train_avit import run_training

    if args.epochs < 1 or args.batch_size < 1 or args.threads < 1:
        raise ValueError("--epochs, --batch-size, --threads: expected positive integers")
    check_augmentation_args(args)  # the same options as mvk train vit
    if not Path(args.vit).is_file():
        raise FileNotFoundError(f"--vit {args.vit}: no such weights file")
    values = {name: getattr(args, name) for name in _OPTIONS}
    cfg = AViTTrainConfig(
        preset=args.preset, halting=not args.no_halting,
        patch_ponder_only=args.patch_ponder_only, balance=args.balance, **values,
    )  # fmt: skip
    command = f"mvk train avit --preset {args.preset} " + " ".join(
        f"--{name.replace('_', '-')} {value}" for name, value in values.items()
    )
    if args.no_halting:
        command += " --no-halting"
    if args.patch_ponder_only:
        command += " --patch-ponder-only"
    if args.balance:
        command += " --balance"
    if Path(args.out).resolve() != DEFAULT_OUT:
        command += f" --out {shlex.quote(str(args.out))}"
    if Path(args.vit).resolve() != DEFAULT_VIT:
        command += f" --vit {shlex.quote(str(args.vit))}"
    if args.data_root:
        command += f" --data-root {shlex.quote(str(args.data_root))}"
    m = run_training(cfg, Path(args.out), Path(args.vit), args.data_root, command)
    print(f"wrote {args.out} (+ .json, .md)")
    print(
        f"held-out accuracy {m['heldout_accuracy']:.3f} (plain ViT "
        f"{m['vit_heldout_accuracy_same_data']:.3f}) on {m['heldout_frames']} frames of "
        f"{m['heldout_videos']} unseen videos; mean halting depth {m['heldout_mean_depth']:.2f}"
    )
    return 0


def register(groups) -> None:
    """Add ``mvk train avit`` (see ``mvk_tutorial.cli``)."""
    from mvk_tutorial.attention.avit_train_config import AViTTrainConfig

    defaults = AViTTrainConfig()
    p = groups["train"].add_parser(
        "avit",
        help="fine-tune the tiny ViT into a tiny A-ViT on MVK-mini (ch05)",
        description="Fine-tune vit_tiny_mvk with adaptive token halting (A-ViT); "
        "writes weights and .json/.md sidecars with held-out metrics. Resumable.",
    )
    p.add_argument("--preset", default=defaults.preset, help="MVK-mini preset (book, test)")
    p.add_argument("--data-root", default=None, help="an MVK-mini collection folder")
    for name, kind in _OPTIONS.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=kind, default=getattr(defaults, name))
    p.add_argument(
        "--no-halting",
        action="store_true",
        help="control run: the same fine-tuning with halting disabled (a plain ViT)",
    )
    p.add_argument(
        "--patch-ponder-only",
        action="store_true",
        help="the ponder loss averages the patch tokens only (the class token is left to "
        "--cls-ponder-scale)",
    )
    p.add_argument(
        "--balance",
        action="store_true",
        help="class-balanced loss (inverse class frequency), as mvk train vit --balance",
    )
    p.add_argument("--vit", default=str(DEFAULT_VIT), help="plain ViT weights to start from")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="weights file (.pt)")
    p.set_defaults(func=_cmd_train_avit)
