"""``mvk vos segment``: semi-supervised VOS with DeAOT (official checkpoints).

    mvk vos segment --frames DIR --first-mask PNG --out DIR --checkpoint CKPT [--model M]
    mvk vos segment --davis-root DAVIS --set val --out RESULTS --checkpoint CKPT

The second form writes ``RESULTS/<sequence>/<frame>.png`` for every sequence of
``ImageSets/<year>/<set>.txt``: the layout that ``mvk vos eval --results`` reads.
Sequences already complete in RESULTS are skipped (resume after an interruption).

Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(groups) -> None:
    """Add ``mvk vos segment`` to the ``mvk`` groups."""
    from mvk_tutorial.vos.deaot.configs import CONFIGS

    p = groups["vos"].add_parser(
        "segment",
        help="segment videos with DeAOT from their first-frame masks",
        description=__doc__.split("\n\n")[0],
    )
    src = p.add_argument_group("input (one sequence, or a DAVIS folder)")
    src.add_argument("--frames", type=Path, help="folder of the frames of one video")
    src.add_argument(
        "--first-mask", type=Path, help="palette PNG of frame 0 (object ids)"
    )
    src.add_argument(
        "--davis-root", type=Path, help="a DAVIS folder (JPEGImages/480p ...)"
    )
    src.add_argument("--set", default="val", help="ImageSets/<year>/<set>.txt (val)")
    src.add_argument("--year", default="2017", help="DAVIS year (2017)")
    p.add_argument(
        "--out", required=True, type=Path, help="output folder of palette PNGs"
    )
    p.add_argument("--model", default="deaot-t", choices=sorted(CONFIGS))
    p.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        help="official aot-benchmark checkpoint (.pth) for --model",
    )
    p.add_argument("--flip", action="store_true", help="flip test-time augmentation")
    p.add_argument(
        "--long-term-gap",
        type=int,
        default=None,
        help="long-term memory every N frames (default: the model's)",
    )
    p.add_argument(
        "--max-long-term",
        type=int,
        default=None,
        help="at most N frames in long-term memory (reference kept)",
    )
    p.add_argument(
        "--max-long-edge",
        type=int,
        default=1040,
        help="resize so that the long side is at most this (official: 1040)",
    )
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best)")
    p.add_argument("--amp", action="store_true", help="float16 autocast (CUDA)")
    p.set_defaults(func=run_segment)


def _load_model(args):
    import torch

    from mvk_tutorial.utils import get_device
    from mvk_tutorial.vos.deaot import build_deaot, load_official_checkpoint

    model = build_deaot(args.model)
    load_official_checkpoint(model, args.checkpoint)
    device = torch.device(args.device) if args.device else get_device()
    return model.to(device).eval()


def _segment_davis(model, args, kwargs) -> int:
    from tqdm import tqdm

    from mvk_tutorial.vos.data import list_sequences, load_sequence, write_mask
    from mvk_tutorial.vos.deaot.segment import iter_segment_video

    names = list_sequences(args.davis_root, args.year, args.set)
    done = 0
    for name in tqdm(names, desc="sequences"):
        seq = load_sequence(args.davis_root, name)
        out = args.out / name
        targets = [out / f"{p.stem}.png" for p in seq.annotations]
        if all(t.is_file() for t in targets):
            continue  # finished in an earlier run
        masks = iter_segment_video(model, seq.frames, seq.annotations[0], **kwargs)
        for target, mask in zip(targets, masks):
            write_mask(target, mask)
        done += 1
    print(
        f"segmented {done} sequence(s), {len(names) - done} already done -> {args.out}"
    )
    return 0


def run_segment(args: argparse.Namespace) -> int:
    """Handler of ``mvk vos segment``."""
    single = args.frames is not None or args.first_mask is not None
    if single == (args.davis_root is not None):
        raise ValueError("give either --frames and --first-mask, or --davis-root")
    if single and (args.frames is None or args.first_mask is None):
        raise ValueError("--frames and --first-mask go together")
    if single and not args.first_mask.is_file():
        raise FileNotFoundError(f"--first-mask: {args.first_mask} does not exist")
    kwargs = dict(
        flip=args.flip,
        long_term_gap=args.long_term_gap,
        max_long_term=args.max_long_term,
        max_long_edge=args.max_long_edge,
        amp=args.amp,
    )
    model = _load_model(args)
    if not single:
        return _segment_davis(model, args, kwargs)
    from mvk_tutorial.vos.deaot.segment import segment_folder

    n = segment_folder(model, args.frames, args.first_mask, args.out, **kwargs)
    print(f"wrote {n} masks to {args.out}")
    return 0
