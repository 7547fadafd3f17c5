"""Sub-commands of the ``mvk`` command for ``mvk_tutorial.mvk``.

    mvk data synth --out DIR [--sites N] [--videos-per-site M] [--seed S] [--preset P]
                   [--frames MIN MAX] [--size H W] [--select-every K] [--workers W]
    mvk data stats ROOT [--probe missing|always|never]

``synth`` writes an MVK-mini collection (see ``mvk_tutorial.mvk.synthetic``) to a new
folder, atomically. ``stats`` prints the statistics of an MVK-layout folder and one line
per bad file; it exits with status 1 when it found bad files, 0 otherwise.

Book: ch00 "How to use this book" (the ``mvk`` command), ch09.
"""

from __future__ import annotations

import argparse


def _synth(args: argparse.Namespace) -> int:
    import time
    from dataclasses import replace

    from mvk_tutorial.mvk.synthetic import PRESETS, generate_mvk_mini

    config = PRESETS[args.preset]
    changes = {
        "sites": args.sites,
        "videos_per_site": args.videos_per_site,
        "seed": args.seed,
        "select_every": args.select_every,
    }
    if args.frames:
        changes.update(min_frames=args.frames[0], max_frames=args.frames[1])
    if args.size:
        changes.update(height=args.size[0], width=args.size[1])
    config = replace(config, **{k: v for k, v in changes.items() if v is not None})
    start = time.perf_counter()
    if args.workers < 1:
        raise ValueError(f"--workers: expected >= 1, got {args.workers}")
    out = generate_mvk_mini(args.out, config, preset=args.preset, workers=args.workers)
    print(
        f"wrote {config.sites * config.videos_per_site} videos to {out} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


def _stats(args: argparse.Namespace) -> int:
    from mvk_tutorial.mvk.stats import collection_stats, format_summary

    stats = collection_stats(args.root, probe=args.probe)
    print(format_summary(stats))
    return 1 if stats.problems else 0


def register(groups) -> None:
    """Add this part's sub-commands to the ``mvk`` groups (see ``mvk_tutorial.cli``)."""
    p = groups["data"].add_parser(
        "synth", help="generate an MVK-mini collection (ch09)"
    )
    p.add_argument("--out", required=True, help="new folder to write (must not exist)")
    p.add_argument(
        "--preset",
        default="book",
        choices=["book", "test"],
        help="starting sizes (default: book)",
    )
    p.add_argument("--sites", type=int, help="number of dive sites (1..12)")
    p.add_argument("--videos-per-site", type=int, help="videos per site")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument(
        "--frames",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="frames per video, drawn uniformly in [MIN, MAX]",
    )
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="frame size")
    p.add_argument("--select-every", type=int, help="one selected frame every K frames")
    p.add_argument(
        "--workers", type=int, default=1, help="processes writing videos (default 1)"
    )
    p.set_defaults(func=_synth)

    p = groups["data"].add_parser(
        "stats", help="statistics of an MVK-layout folder (ch09)"
    )
    p.add_argument("root", help="folder holding videos/ and information/")
    p.add_argument(
        "--probe",
        default="missing",
        choices=["missing", "always", "never"],
        help="when to read values from the mp4 instead of the JSON",
    )
    p.set_defaults(func=_stats)
