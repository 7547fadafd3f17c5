"""Training-step speed of the VOS networks: one optimiser step on a batch of clips.

A step is what ``mvk train deaot|aot`` does: encode the clip's frames, propagate frame 0
with its mask, then each later frame against memory with its prediction fed back,
losses, backward, gradient clipping, AdamW. Random clips of the given size (the speed
does not depend on the pixels); the baseline is the official DeAOT-T at the same batch,
clip length and crop, measured in the same run. FLOPs count a multiply-add as 2
(``torch.utils.flop_counter``, forward + backward); bytes are the parameters + AdamW
state. Timings on a shared CPU are upper bounds.

On CUDA the step runs as the training command runs it there: float16 autocast with a
gradient scaler (AMP; ``--no-amp`` for fp32), timed with CUDA events; every row names
its device and precision. ``--train-steps N`` also runs the real command (``train``
on MVK-mini clips, data loading included) for N steps and reports its steps/s.

    python benchmarks/train_vos.py [--models deaot-mini aot-mini] [--batch 4] [--crop 97]
                                   [--crop-width W] [--clip-len 5] [--repeat 3]
                                   [--threads 1] [--no-amp] [--train-steps N]
    # the GPU row (a CUDA machine): whole 257x449 MVK-mini frames, AMP
    python benchmarks/train_vos.py --batch 8 --crop 257 --crop-width 449 --repeat 10 \
        --train-steps 200

Book: ch08, section "Training DeAOT on MVK-mini".
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from mvk_tutorial.utils import benchmark, format_table, measure_limits, roofline
from mvk_tutorial.vos.train import ClipTrainer, build_model


def make_step(name: str, batch: int, clip_len: int, crop: int, device, width=None,
              amp: bool = False):
    """One optimiser step of ``name`` on a fixed random batch (AMP on CUDA if ``amp``)."""
    torch.manual_seed(0)
    width = width or crop
    model = build_model(name).to(device).train()
    net = ClipTrainer(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    use_amp = amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    frames = torch.randn(batch, clip_len, 3, crop, width, device=device)
    masks = torch.zeros(batch, clip_len, 1, crop, width, dtype=torch.long, device=device)
    masks[..., crop // 4 : crop // 2, width // 4 : width // 2] = 1
    masks[..., crop // 2 :, width // 2 :] = 2
    nobj = torch.full((batch,), 2, device=device)

    def step():
        with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
            loss, _ = net(frames, masks, nobj, 0.5)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        scaler.step(opt)
        scaler.update()

    n_params = sum(p.numel() for p in model.parameters())
    return step, n_params


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["deaot-mini", "aot-mini"])
    p.add_argument("--baseline", default="deaot-t")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--clip-len", type=int, default=5)
    p.add_argument("--crop", type=int, default=97)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--crop-width", type=int, default=None, help="default: --crop")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-amp", action="store_true", help="fp32 on CUDA too")
    p.add_argument("--train-steps", type=int, default=0,
                   help="also run the real training command for this many steps")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = device.type == "cuda" and not args.no_amp
    if device.type == "cuda":
        label = f"{torch.cuda.get_device_name()}, {'AMP fp16' if amp else 'fp32'}"
    else:
        label = f"CPU, {args.threads} thread(s), fp32"
    rows, base_s = [], None
    for name in [args.baseline] + args.models:
        step, n_params = make_step(name, args.batch, args.clip_len, args.crop, device,
                                   args.crop_width, amp)
        with FlopCounterMode(display=False) as fc:
            step()
        flops = fc.get_total_flops()
        res = benchmark(step, name, device, warmup=0, repeat=args.repeat, measure_memory=False)
        s = min(res.times_s)
        base_s = base_s or s
        rows.append({
            "model": name, "params (M)": round(n_params / 1e6, 2),
            "s/step (min)": round(s, 3), "steps/s": round(1 / s, 3),
            "speed-up vs " + args.baseline: round(base_s / s, 2),
            "GFLOP/step": round(flops / 1e9, 2), "GFLOP/s": round(flops / 1e9 / s, 2),
            "param+Adam MB": round(n_params * 4 * 3 / 1e6, 1), "device": label,
        })
    print(f"batch {args.batch}, clips of {args.clip_len} frames, crop {args.crop}x"
          f"{args.crop_width or args.crop}")
    print(format_table(rows))
    limits = measure_limits(device)
    print("\nroofline (bytes: parameters + gradients + AdamW state, read and written once "
          "per step, a lower bound; peak and bandwidth measured in this run)")
    for r in rows:
        print(roofline(f"{r['model']} training step", 1e9 * r["GFLOP/step"],
                       2 * r["param+Adam MB"] * 1e6 * 4 / 3, r["s/step (min)"], limits))
    if args.train_steps:
        train_rows = [real_training(n, args, device, label) for n in args.models]
        print(f"\nthe training command on MVK-mini clips, {args.train_steps} steps "
              "(data loading included)")
        print(format_table(train_rows))


def real_training(name: str, args, device, label: str) -> dict:
    """steps/s of ``train`` (the ``mvk train`` command) on MVK-mini, in a scratch folder."""
    import tempfile

    from mvk_tutorial.vos.train import TrainConfig, train
    from mvk_tutorial.vos.train_data import mvk_mini_collection

    davis = mvk_mini_collection(1, "book") / "DAVIS"
    cfg = TrainConfig(model=name, steps=args.train_steps, batch_size=args.batch,
                      clip_len=args.clip_len, crop=(args.crop, args.crop_width or args.crop),
                      warmup=min(50, args.train_steps), scale=(1.0, 1.2),
                      checkpoint_every=args.train_steps, amp=not args.no_amp,
                      multi_object=0.75)
    with tempfile.TemporaryDirectory() as out:
        res = train(cfg, davis, out, split="train,val", device=device, progress=False)
    return {"model": name, "steps": res["steps"], "s/step": round(res["s_per_step"], 3),
            "steps/s": round(1 / res["s_per_step"], 3), "device": label}


if __name__ == "__main__":
    main()
