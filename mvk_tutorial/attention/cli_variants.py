"""``mvk train variants``: the tiny ViT / Swin / DAT classifiers of chapter 3.

    mvk train variants [--model dat|swin|vit|all] [--epochs 8] [--seed 0] [--threads 1]

Book: ch03, section "Three tiny classifiers on MVK-mini".
"""

from __future__ import annotations

import shlex
from pathlib import Path

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def default_out(model: str) -> Path:
    """Shipped weights file of ``model``: ``weights/<model>_tiny_variants.pt``.

    Book: ch03, section "Three tiny classifiers on MVK-mini".
    """
    return WEIGHTS / f"{model}_tiny_variants.pt"


def _cmd_train_variants(args) -> int:
    from mvk_tutorial.attention.train_variants import VariantTrainConfig, run_variant_training
    from mvk_tutorial.attention.variants import KINDS

    if args.epochs < 1 or args.batch_size < 1 or args.threads < 1:
        raise ValueError("--epochs, --batch-size, --threads: expected positive integers")
    models = KINDS if args.model == "all" else (args.model,)
    if args.out and len(models) > 1:
        raise ValueError("--out: give one --model (not 'all') with --out")
    for model in models:
        cfg = VariantTrainConfig(
            model=model, preset=args.preset, epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, seed=args.seed, threads=args.threads, stop_after=args.stop_after,
        )
        out = Path(args.out) if args.out else default_out(model)
        command = (
            f"mvk train variants --model {model} --preset {args.preset} --epochs {args.epochs} "
            f"--batch-size {args.batch_size} --lr {args.lr} --seed {args.seed} --threads {args.threads}"
        )
        if args.out:
            command += f" --out {shlex.quote(str(args.out))}"
        if args.data_root:
            command += f" --data-root {shlex.quote(str(args.data_root))}"
        metrics = run_variant_training(cfg, out, data_root=args.data_root, command=command)
        if metrics is None:
            print(f"{model}: stopped early; run again to resume")
            continue
        print(
            f"wrote {out}: held-out accuracy {metrics['heldout_accuracy']:.3f} on "
            f"{metrics['heldout_frames']} frames of {metrics['heldout_videos']} unseen videos "
            f"(majority {metrics['majority_baseline']:.3f})"
        )
    return 0


def register(groups) -> None:
    """Add ``mvk train variants`` to the ``train`` group (see ``mvk_tutorial.cli``).

    Book: ch03, section "Three tiny classifiers on MVK-mini".
    """
    p = groups["train"].add_parser(
        "variants",
        help="train the tiny ViT / Swin / DAT classifiers of ch03 on MVK-mini",
        description="Train a tiny classifier whose blocks use global (vit), window "
        "(swin) or deformable (dat) attention; writes .pt, .json and .md.",
    )
    p.add_argument("--model", default="all", choices=["vit", "swin", "dat", "all"])
    p.add_argument("--preset", default="book", help="MVK-mini preset (book, test)")
    p.add_argument("--data-root", default=None, help="an MVK-mini collection folder")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="CPU threads")
    p.add_argument("--stop-after", type=int, default=0, help="stop after N epochs (resume later)")
    p.add_argument("--out", default=None, help="weights file (.pt); default weights/<model>_tiny_variants.pt")
    p.set_defaults(func=_cmd_train_variants)
