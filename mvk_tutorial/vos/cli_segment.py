"""``mvk vos segment``: semi-supervised VOS with DeAOT (official checkpoints).

    mvk vos segment --frames DIR --first-mask PNG --out DIR --checkpoint CKPT [--model M]
    mvk vos segment --davis-root DAVIS --set val --out RESULTS --checkpoint CKPT
    mvk vos segment --ytvos-root YTB/valid --out RESULTS --checkpoint CKPT

The second form writes ``RESULTS/<sequence>/<frame>.png`` for every sequence of
``ImageSets/<year>/<set>.txt``: the layout that ``mvk vos eval --results`` reads.
The third reads one YouTube-VOS split folder (``JPEGImages/``, ``Annotations/``,
``meta.json``): every object is added at the frame where it first appears (objects may
join mid-video; ids need not be contiguous), and ``RESULTS/Annotations/<video>/<frame>.png``
is written for every frame of ``JPEGImages/<video>/``, with the original ids: the layout
the YouTube-VOS server expects (zip the ``Annotations`` folder).
Sequences already complete in RESULTS are skipped (resume after an interruption).
Every output path comes from ``mvk_tutorial.vos.io.output_path``.

Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(groups) -> None:
    """Add ``mvk vos segment`` to the ``mvk`` groups."""
    from mvk_tutorial.vos.aot.configs import AOT_CONFIGS
    from mvk_tutorial.vos.deaot.configs import CONFIGS, CPU_CONFIGS

    p = groups["vos"].add_parser(
        "segment",
        help="segment videos with DeAOT from their first-frame masks",
        description=__doc__.split("\n\n")[0],
    )
    src = p.add_argument_group(
        "input (one sequence, a DAVIS folder, or a YouTube-VOS split folder)"
    )
    src.add_argument("--frames", type=Path, help="folder of the frames of one video")
    src.add_argument(
        "--first-mask", type=Path, help="palette PNG of frame 0 (object ids)"
    )
    src.add_argument(
        "--davis-root", type=Path, help="a DAVIS folder (JPEGImages/480p ...)"
    )
    src.add_argument("--set", default="val", help="ImageSets/<year>/<set>.txt (val)")
    src.add_argument(
        "--ytvos-root",
        type=Path,
        help="a YouTube-VOS split folder (valid/: JPEGImages, Annotations, meta.json)",
    )
    src.add_argument("--year", default="2017", help="DAVIS year (2017)")
    p.add_argument(
        "--out", required=True, type=Path, help="output folder of palette PNGs"
    )
    p.add_argument(
        "--model",
        default="deaot-t",
        choices=sorted(CONFIGS) + sorted(CPU_CONFIGS) + sorted(AOT_CONFIGS),
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        type=Path,
        help="official aot-benchmark checkpoint (.pth) for --model; without it, the "
        "weights the package ships (deaot-mini, aot-mini, deaot-mini-single)",
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
    p.add_argument(
        "--max-short-edge",
        type=int,
        default=None,
        help="first resize so that the short side is at most this (official: off)",
    )
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best)")
    p.add_argument("--amp", action="store_true", help="float16 autocast (CUDA)")
    p.add_argument(
        "--redo",
        action="store_true",
        help="OUT holds results of another model/checkpoint/settings: delete and redo",
    )
    p.set_defaults(func=run_segment)


def _load_model(args):
    import torch

    from mvk_tutorial.utils import get_device
    from mvk_tutorial.vos.deaot import load_official_checkpoint
    from mvk_tutorial.vos.train import build_model  # deaot-* or aot-*

    if args.checkpoint is None:  # the weights shipped with the package (ch08)
        from mvk_tutorial.vos.shipped import load_shipped

        model = load_shipped(args.model)
    else:
        model = build_model(args.model)
        load_official_checkpoint(model, args.checkpoint)
    device = torch.device(args.device) if args.device else get_device()
    return model.to(device).eval()


def _session(model, kwargs):
    from mvk_tutorial.vos.inference import VOSSession

    return VOSSession(model, **kwargs)


def _write_video(session, state, out_dir, seq_name) -> None:
    """Propagate one video and write a palette PNG per frame (background before the
    first annotated frame)."""
    import numpy as np

    from mvk_tutorial.vos.io import output_path, write_mask

    start = min(state.prompts)
    for t in range(start):
        write_mask(output_path(out_dir, seq_name, state.names[t]),
                   np.zeros(state.image_size, np.uint8))
    for t, _, mask in session.propagate(state):
        write_mask(output_path(out_dir, seq_name, state.names[t]), mask)


def _done(out_dir, seq_name, names) -> bool:
    from mvk_tutorial.vos.io import output_path

    return all(output_path(out_dir, seq_name, n).is_file() for n in names)


def _segment_davis(model, args, kwargs) -> int:
    from tqdm import tqdm

    from mvk_tutorial.vos.data import list_sequences, load_sequence

    session = _session(model, kwargs)
    names = list_sequences(args.davis_root, args.year, args.set)
    done = 0
    for name in tqdm(names, desc="sequences"):
        seq = load_sequence(args.davis_root, name)
        if _done(args.out, name, [p.stem for p in seq.annotations]):
            continue  # finished in an earlier run
        state = session.init_state(seq.frames)
        session.add_mask(state, 0, seq.annotations[0])
        state.objects.add(range(1, seq.num_objects + 1))  # DAVIS: ids 1..K
        _write_video(session, state, args.out, name)
        done += 1
    print(
        f"segmented {done} sequence(s), {len(names) - done} already done -> {args.out}"
    )
    return 0


def _segment_ytvos(model, args, kwargs) -> int:
    from tqdm import tqdm

    from mvk_tutorial.vos.data import YouTubeVOS

    ytvos = YouTubeVOS(args.ytvos_root, split=None)
    session = _session(model, kwargs)
    out = args.out / "Annotations"
    names = ytvos.video_names()
    done = late = 0
    for name in tqdm(names, desc="videos"):
        paths = ytvos.frame_paths(name)
        stems = [p.stem for p in paths]
        if _done(out, name, stems):
            continue
        refs = ytvos.reference_masks(name)  # {frame: ids first appearing there}
        missing = sorted(set(refs) - set(stems))
        if missing:
            raise FileNotFoundError(
                f"--ytvos-root: video {name!r}: annotated frames {missing} have no JPEG "
                f"in {ytvos.images_dir / name}"
            )
        state = session.init_state(paths)
        for frame, mask in refs.items():
            session.add_mask(state, stems.index(frame), mask)
        late += len(refs) > 1 or min(stems.index(f) for f in refs) > 0
        _write_video(session, state, out, name)
        done += 1
    print(
        f"segmented {done} video(s) ({late} with objects that join after their first "
        f"frame), {len(names) - done} already done -> {out}"
    )
    return 0


def run_segment(args: argparse.Namespace) -> int:
    """Handler of ``mvk vos segment``."""
    single = args.frames is not None or args.first_mask is not None
    sources = [single, args.davis_root is not None, args.ytvos_root is not None]
    if sum(sources) != 1:
        raise ValueError(
            "give either --frames and --first-mask, or --davis-root, or --ytvos-root"
        )
    if single and (args.frames is None or args.first_mask is None):
        raise ValueError("--frames and --first-mask go together")
    if single and not args.first_mask.is_file():
        raise FileNotFoundError(f"--first-mask: {args.first_mask} does not exist")
    if args.ytvos_root is not None and not (args.ytvos_root / "meta.json").is_file():
        raise FileNotFoundError(
            f"--ytvos-root: {args.ytvos_root / 'meta.json'} does not exist (give one "
            "split folder, e.g. valid/, holding JPEGImages/, Annotations/, meta.json)"
        )
    kwargs = dict(
        flip=args.flip,
        long_term_gap=args.long_term_gap,
        max_long_term=args.max_long_term,
        max_long_edge=args.max_long_edge,
        amp=args.amp,
    )
    if args.max_short_edge is not None:
        kwargs["max_short_edge"] = args.max_short_edge
    from mvk_tutorial.vos.run_record import check_run_record, make_run_record

    # what produced the PNGs: a rerun with other weights or settings never mixes results
    source = "davis" if args.davis_root else "ytvos" if args.ytvos_root else "frames"
    settings = {**kwargs, "source": source, "year": args.year, "set": args.set}
    check_run_record(args.out, make_run_record(args.model, args.checkpoint, settings),
                     redo=args.redo)
    model = _load_model(args)
    if args.davis_root is not None:
        return _segment_davis(model, args, kwargs)
    if args.ytvos_root is not None:
        return _segment_ytvos(model, args, kwargs)
    from mvk_tutorial.vos.inference.session import segment_folder

    n = segment_folder(model, args.frames, args.first_mask, args.out, **kwargs)
    print(f"wrote {n} masks to {args.out}")
    return 0
