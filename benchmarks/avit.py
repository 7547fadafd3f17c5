"""Plain tiny ViT vs tiny A-ViT: held-out accuracy and images/s in one run.

    python benchmarks/avit.py                       # CPU, 1 thread, batch 1 and 64
    python benchmarks/avit.py --threads 2 --batch-sizes 1 16 64 --rounds 5
    python benchmarks/avit.py --device cuda

Both models are the shipped weights (``vit_tiny_mvk`` and ``avit_tiny_mvk``, the
second fine-tuned from the first by ``mvk train avit``). Accuracy is measured on every
frame of the held-out MVK-mini ``val`` videos (never seen in training). Speed: the
same held-out frames are classified in batches of B, in interleaved rounds (plain,
exit, gather, mask, plain, ...), and the median images/s is reported with its ratio
to the plain ViT measured in the same round. The A-ViT runs, in this order of speed:

* ``A-ViT exit``: the ``gather`` path (only live tokens enter a block) with
  ``early_exit=True`` (an image is finished when its class token halts: the logits
  are those of the full forward); the model the target is measured on;
* ``A-ViT gather``: every token runs until it halts itself;
* ``A-ViT mask``: the official path (every token runs every block, halted ones
  masked), which cannot be faster than the plain ViT;
* ``no-halt control``: the plain ViT's weights run by the ``exit`` code with halting
  disabled (every token, every block): its ratio to the plain ViT is what the code
  path alone costs or saves, so the other ratios are not an artefact of it.

At batch 1 the frames timed are ``--frames-batch1`` frames spread evenly over the
held-out set (every video contributes).

FLOPs (multiply-add = 2) count the blocks' linears (2 n (4 C^2 + 2 r C^2)) and
attention (4 n^2 C) with n the tokens entering each block, averaged over the
held-out frames, plus the patch embedding and head. Bytes: fp32 weights read once per
batch plus the block input/outputs of live tokens (a lower bound on traffic). The
roofline lines put every row against the matmul peak and copy bandwidth measured in
the same run (``mvk_tutorial.utils.roofline``; ``--no-roofline`` skips them).

Book: ch05, section "Measured speed and accuracy".
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from mvk_tutorial.attention.avit import HaltingConfig, avit_flops, avit_from_vit
from mvk_tutorial.attention.train_avit import evaluate_avit, load_avit
from mvk_tutorial.attention.vit import load_vit
from mvk_tutorial.utils import format_table, get_device, measure_limits, roofline
from mvk_tutorial.utils.bench import device_label

WEIGHTS = Path(__file__).resolve().parents[1] / "mvk_tutorial" / "weights"


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_s(model, x: torch.Tensor, batch: int, device) -> float:
    """Classify all of x in batches of ``batch``; return images per second."""
    _sync(device)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            model(x[i : i + batch])
    _sync(device)
    return len(x) / (time.perf_counter() - t0)


def block_token_counts(depth: torch.Tensor, L: int) -> torch.Tensor:
    """Mean number of tokens entering block l (l = 0..L-1) per image, from depths."""
    return torch.stack([(depth > l).double().sum(1).mean() for l in range(L)])


def stem_head_flops(cfg) -> float:
    P, (H, W) = cfg.patch_size, cfg.img_size
    n = (H // P) * (W // P)
    return 2.0 * n * cfg.in_chans * P * P * cfg.dim + 2.0 * cfg.dim * cfg.num_classes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vit", default=str(WEIGHTS / "vit_tiny_mvk.pt"))
    ap.add_argument("--avit", default=str(WEIGHTS / "avit_tiny_mvk.pt"))
    ap.add_argument("--preset", default="book")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames-batch1", type=int, default=256, help="frames timed at batch 1")
    ap.add_argument("--device", default=None)
    ap.add_argument("--no-roofline", action="store_true", help="skip measuring the peaks")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = get_device(args.device)

    from mvk_tutorial.attention.train_vit import prepare_data
    from mvk_tutorial.mvk.synthetic import ensure_mvk_mini

    vit, meta = load_vit(args.vit)
    avit, ameta = load_avit(args.avit, token_path="gather")
    data = prepare_data(ensure_mvk_mini(args.preset), vit.cfg.img_size)
    mean, std = meta["mean"].view(1, 3, 1, 1), meta["std"].view(1, 3, 1, 1)
    ho = data["held_idx"]
    x = ((data["images"][ho].float() / 255.0 - mean) / std).to(device)
    y = data["labels"][ho].to(device)
    vit, avit = vit.to(device).eval(), avit.to(device).eval()

    with torch.inference_mode():
        pred = torch.cat([vit(x[i : i + 256]).argmax(-1) for i in range(0, len(x), 256)])
    acc_vit = (pred == y).double().mean().item()
    variants = {"A-ViT exit": ("gather", True), "A-ViT gather": ("gather", False),
                "A-ViT mask": ("mask", False)}  # fmt: skip
    L, n_all = vit.cfg.depth, vit.patch_embed.num_patches + 1
    stats = {}
    for name, (path, exit_) in variants.items():
        avit.token_path, avit.early_exit = path, exit_
        ev = evaluate_avit(avit, x, y)  # accuracy; depths (early exit: where each stopped)
        with torch.inference_mode():
            depth = torch.cat(
                [avit(x[i : i + 256], return_depth=True)[1] for i in range(0, len(x), 256)]
            )
        counts = block_token_counts(depth.cpu(), L)
        if path == "mask":  # every token runs every block
            counts = torch.full((L,), float(n_all))
        stats[name] = {"accuracy": ev["accuracy"], "counts": counts,
                       "depth": ev["mean_depth"], "depth_cls": ev["mean_depth_cls"]}  # fmt: skip
    fl_vit = avit_flops(torch.full((L,), float(n_all)), vit.cfg) + stem_head_flops(vit.cfg)
    w_bytes = 4 * sum(p.numel() for p in vit.parameters())
    act_vit = 4 * 2 * L * n_all * vit.cfg.dim

    print(f"device: {device_label(device)}; torch {torch.__version__}")
    print(f"held-out: {len(x)} frames of {len(set(data['df']['seq'].to_numpy()[ho]))} unseen videos")
    for name in ("A-ViT gather", "A-ViT exit"):
        st = stats[name]
        print(
            f"{name}: tokens entering blocks 1..{L} (mean per image): "
            + ", ".join(f"{c:.1f}" for c in st["counts"].tolist())
            + f" of {n_all}; mean depth {st['depth']:.2f}, class token {st['depth_cls']:.2f}"
        )
    control = avit_from_vit(vit, HaltingConfig(halting=False), token_path="gather").eval()
    control.early_exit = True
    rows = []
    models = {"plain ViT": vit, **{k: avit for k in variants}, "no-halt control": control}

    def select(name):
        if name in variants:
            avit.token_path, avit.early_exit = variants[name]

    for B in args.batch_sizes:
        if B == 1:  # evenly spread over the held-out videos
            xs = x[torch.linspace(0, len(x) - 1, min(args.frames_batch1, len(x))).long()]
        else:
            xs = x
        rates = {k: [] for k in models}
        for name, m in models.items():  # warm-up
            select(name)
            images_per_s(m, xs[: max(B, 8)], B, device)
        for _ in range(args.rounds):
            for name, m in models.items():
                select(name)
                rates[name].append(images_per_s(m, xs, B, device))
        base = statistics.median(rates["plain ViT"])
        for name in models:
            r = statistics.median(rates[name])
            if name in ("plain ViT", "no-halt control"):
                fl, act, acc = fl_vit, act_vit, acc_vit
            else:
                counts = stats[name]["counts"]
                fl = avit_flops(counts, vit.cfg) + stem_head_flops(vit.cfg)
                act, acc = 4 * 2 * counts.sum().item() * vit.cfg.dim, stats[name]["accuracy"]
            rows.append({
                "batch": B, "model": name, "accuracy": acc,
                "images/s": r, "ratio vs plain": r / base,
                "GFLOP/image": fl / 1e9, "achieved GFLOP/s": fl * r / 1e9,
                "MB/image": (w_bytes / B + act) / 2**20,
            })  # fmt: skip
    avit.token_path, avit.early_exit = "gather", True
    print(format_table(rows))
    ex = {r["batch"]: r["ratio vs plain"] for r in rows if r["model"] == "A-ViT exit"}
    acc = stats["A-ViT exit"]["accuracy"]
    print(
        f"accuracy: plain {acc_vit:.3f}, A-ViT {acc:.3f} "
        f"({100 * (acc - acc_vit):+.1f} points); speed-up (gather + early exit) "
        + ", ".join(f"batch {b}: {v:.2f}x" for b, v in ex.items())
        + "; target >= 1.4x at <= 1 point lower accuracy"
    )
    if not args.no_roofline:
        limits = measure_limits(device)
        print("\nroofline (bytes: weights once per batch + block activations; peak and "
              "bandwidth measured in this run)")
        for r in rows:
            print(roofline(f"batch {r['batch']} {r['model']}, per image",
                           1e9 * r["GFLOP/image"], r["MB/image"] * 2**20,
                           1 / r["images/s"], limits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
