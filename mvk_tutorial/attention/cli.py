"""Sub-commands of the ``mvk`` command for ``mvk_tutorial.attention``.

    mvk train vit [--preset book] [--epochs 25] [--seed 0] [--zoom Z] [--gain G]
                  [--gain-mode channel|brightness] [--balance] [--paste P]
                  [--out PATH]
    mvk train cnn [...]     the same command for the small CNN control (cnn_tiny_mvk)

Book: ch00 "How to use this book" (the ``mvk`` command); ch02 "A tiny ViT on MVK-mini".
"""

from __future__ import annotations

import shlex
from pathlib import Path

from mvk_tutorial.weights import WEIGHTS_DIR  # noqa: E402

DEFAULT_OUT = WEIGHTS_DIR / "vit_tiny_mvk.pt"
DEFAULT_MODEL = {"vit": "vit_tiny_mvk", "cnn": "cnn_tiny_mvk"}


def check_augmentation_args(args) -> None:
    """ValueError naming the flag if ``--zoom``, ``--paste`` or ``--paste-shift`` is out of
    range (``mvk train vit`` and ``mvk train avit`` share these options).

    Book: ch02, section "What the confusion matrix says".
    """
    if not 0 <= args.zoom <= 2:
        raise ValueError(f"--zoom {args.zoom}: expected a factor between 0 and 2")
    if not 0 <= args.paste <= 1:
        raise ValueError(f"--paste {args.paste}: expected a probability in [0, 1]")
    if not 0 <= args.paste_shift <= 0.5:
        raise ValueError(f"--paste-shift {args.paste_shift}: expected a fraction in [0, 0.5]")


def _cmd_train_vit(args) -> int:
    from mvk_tutorial.attention.train_vit import TrainConfig, run_training

    if args.epochs < 1 or args.batch_size < 1:
        raise ValueError("--epochs and --batch-size: expected positive integers")
    check_augmentation_args(args)
    if not 0 <= args.gain < 1:
        raise ValueError(f"--gain {args.gain}: expected an amplitude in [0, 1)")
    kind = args.kind
    if args.out is None:
        args.out = str(WEIGHTS_DIR / f"{DEFAULT_MODEL[kind]}.pt")
    cfg = TrainConfig(
        preset=args.preset,
        model=DEFAULT_MODEL[kind],
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        zoom=args.zoom,
        gain=args.gain,
        gain_mode=args.gain_mode,
        balance=args.balance,
        paste=args.paste,
        paste_shift=args.paste_shift,
    )
    command = (
        f"mvk train {kind} --preset {args.preset} --epochs {args.epochs} "
        f"--batch-size {args.batch_size} --lr {args.lr} --seed {args.seed} "
        f"--threads {args.threads}"
    )
    if args.zoom:
        command += f" --zoom {args.zoom}"
    if args.gain != 0.25:
        command += f" --gain {args.gain}"
    if args.gain_mode != "channel":
        command += f" --gain-mode {args.gain_mode}"
    if args.balance:
        command += " --balance"
    if args.paste:
        command += f" --paste {args.paste}"
    if args.paste_shift:
        command += f" --paste-shift {args.paste_shift}"
    default_out = WEIGHTS_DIR / f"{DEFAULT_MODEL[kind]}.pt"
    if Path(args.out).resolve() != default_out:  # the default needs no --out
        command += f" --out {shlex.quote(str(args.out))}"
    if args.data_root:
        command += f" --data-root {shlex.quote(str(args.data_root))}"
    metrics = run_training(
        cfg, Path(args.out), data_root=args.data_root, command=command
    )
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.md')}")
    print(
        f"held-out accuracy {metrics['heldout_accuracy']:.3f} on "
        f"{metrics['heldout_frames']} frames of {metrics['heldout_videos']} unseen videos "
        f"(majority baseline {metrics['majority_baseline']:.3f}); "
        f"train accuracy {metrics['train_accuracy']:.3f}"
    )
    return 0


def register(groups) -> None:
    """Add this part's sub-commands to the ``mvk`` groups (see ``mvk_tutorial.cli``)."""
    for kind, what in (("vit", "the tiny ViT"), ("cnn", "the small CNN control")):
        _add_train_parser(groups, kind, what)


def _add_train_parser(groups, kind: str, what: str) -> None:
    p = groups["train"].add_parser(
        kind,
        help=f"train {what} on MVK-mini species (ch02)",
        description=f"Train {what} ({DEFAULT_MODEL[kind]}) on MVK-mini frames, split "
        "by video; writes weights and sidecars (.md, .json with the learning curve).",
    )
    p.add_argument("--preset", default="book", help="MVK-mini preset (book, test)")
    p.add_argument(
        "--data-root",
        default=None,
        help="an MVK-mini collection folder (default: ensure_mvk_mini(preset))",
    )
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument(
        "--zoom",
        type=float,
        default=0.0,
        help="random zoom-in augmentation: enlarge by U(1, 1 + zoom) (0: off)",
    )
    p.add_argument(
        "--gain",
        type=float,
        default=0.25,
        help="colour gain augmentation: multiply by U(1 - gain, 1 + gain) (0: off)",
    )
    p.add_argument(
        "--gain-mode",
        choices=("channel", "brightness"),
        default="channel",
        help="channel: one gain per colour channel (changes hues); "
        "brightness: one gain per image (keeps hues)",
    )
    p.add_argument(
        "--balance",
        action="store_true",
        help="class-balanced loss: weight each class by its inverse frequency",
    )
    p.add_argument(
        "--paste",
        type=float,
        default=0.0,
        help="copy-paste augmentation: with this probability paste a frame's animals "
        "(exact masks) onto another training frame, label recounted (0: off)",
    )
    p.add_argument(
        "--paste-shift",
        type=float,
        default=0.0,
        help="with --paste: move the pasted animals by up to this fraction of the "
        "frame's height and width (0: keep their place)",
    )
    p.add_argument(
        "--out",
        default=None,
        help=f"weights file (.pt; default: the shipped {DEFAULT_MODEL[kind]}.pt)",
    )
    p.set_defaults(func=_cmd_train_vit, kind=kind)
