"""DeAOT engine features: >10 objects, long-term memory cap, checkpoint loading,
segment_video (flip TTA), and the ``mvk vos segment`` CLI, on small inputs."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mvk_tutorial.cli import main
from mvk_tutorial.vos.data import read_mask, write_mask
from mvk_tutorial.vos.deaot import (
    DeAOTEngine,
    build_deaot,
    load_official_checkpoint,
    official_input_size,
    segment_video,
)

H, W = 65, 97  # 16k+1 sides: 5 x 7 tokens


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_deaot("deaot-t")


def _blobs(num, seed, h=H, w=W):
    g = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.int64)
    for i in range(1, num + 1):
        y, x = g.integers(0, h - 12), g.integers(0, w - 12)
        mask[y : y + 12, x : x + 12] = i
    return mask


def test_official_input_size():
    assert official_input_size(480, 854) == (481, 849)  # DAVIS, MobileNet / ResNet
    assert official_input_size(480, 854, align_corners=False) == (480, 848)  # Swin
    h, w = official_input_size(1080, 1920)  # long side capped at ~1040
    assert (h - 1) % 16 == 0 and (w - 1) % 16 == 0 and abs(w - 1040) <= 8


def test_more_than_ten_objects_soft_aggregation(model):
    g = torch.Generator().manual_seed(0)
    frames = [torch.randn(1, 3, H, W, generator=g) for _ in range(3)]
    mask = torch.from_numpy(_blobs(12, 0)).view(1, 1, H, W)
    engine = DeAOTEngine(model)
    engine.add_reference(frames[0], mask, 12)
    # independent: two 1-group engines on hand-separated masks, merged by the formula
    lo = DeAOTEngine(model)
    lo.add_reference(frames[0], torch.where(mask <= 10, mask, 0), 10)
    hi = DeAOTEngine(model)
    hi.add_reference(frames[0], torch.where(mask > 10, mask - 10, 0), 2)
    for t in (1, 2):
        out = engine.propagate(frames[t])
        assert out.shape == (1, 13, H, W)
        p1, p2 = (
            torch.softmax(lo.propagate(frames[t]), 1),
            torch.softmax(hi.propagate(frames[t]), 1),
        )
        merged = torch.cat([p1[:, :1] * p2[:, :1], p1[:, 1:], p2[:, 1:]], 1)
        expected = torch.logit(merged.clamp(1e-5, 1 - 1e-5))
        torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)
        pred = out.argmax(1, keepdim=True)
        engine.update_memory(pred)
        lo.update_memory(torch.where(pred <= 10, pred, 0))
        hi.update_memory(torch.where(pred > 10, pred - 10, 0))


def test_long_term_memory_cap_keeps_reference_and_newest(model):
    g = torch.Generator().manual_seed(1)
    frames = [torch.randn(1, 3, H, W, generator=g) for _ in range(6)]
    mask = torch.from_numpy(_blobs(2, 1)).view(1, 1, H, W)
    capped = DeAOTEngine(model, long_term_gap=1, max_long_term=3)
    free = DeAOTEngine(model, long_term_gap=1)
    for e in (capped, free):
        e.add_reference(frames[0], mask, 2)
    ref_K = free.groups[0].long_term[0].K.clone()
    N = ref_K.shape[0]
    for t in range(1, 6):
        a, b = capped.propagate(frames[t]), free.propagate(frames[t])
        if t <= 2:  # memory has not been capped yet
            torch.testing.assert_close(a, b)
        pred = b.argmax(1, keepdim=True)
        capped.update_memory(pred)
        free.update_memory(pred)
    assert free.groups[0].long_term[0].K.shape[0] == 6 * N
    K = capped.groups[0].long_term[0].K
    assert K.shape[0] == 3 * N
    torch.testing.assert_close(K[-N:], ref_K)  # reference frame kept
    torch.testing.assert_close(
        K[: 2 * N], free.groups[0].long_term[0].K[: 2 * N]
    )  # newest


def test_engine_rejects_bad_input(model):
    e = DeAOTEngine(model)
    with pytest.raises(ValueError, match="16k\\+1"):
        e.add_reference(
            torch.zeros(1, 3, 64, 96), torch.zeros(1, 1, 64, 96, dtype=torch.long), 1
        )
    with pytest.raises(ValueError, match="ids must lie"):
        e.add_reference(torch.zeros(1, 3, H, W), torch.full((1, 1, H, W), 3), 2)
    with pytest.raises(RuntimeError):
        e.propagate(torch.zeros(1, 3, H, W))


# ------------------------------------------------------------------- checkpoints


def test_load_official_checkpoint_formats(tmp_path, model):
    sd = model.state_dict()
    formats = {
        "raw": sd,
        "module": {"module." + k: v.half() for k, v in sd.items()},
        "state_dict": {"state_dict": {"module." + k: v for k, v in sd.items()}},
        "model": {"model": sd},
    }
    for name, obj in formats.items():
        path = tmp_path / f"{name}.pth"
        torch.save(obj, path)
        fresh = build_deaot("deaot-t")
        load_official_checkpoint(fresh, path)
        for k, v in fresh.state_dict().items():
            tol = 1e-3 * v.abs().max().item() if name == "module" else 0
            torch.testing.assert_close(v, sd[k].float(), atol=tol, rtol=0)


def test_load_official_checkpoint_errors(tmp_path, model):
    sd = dict(model.state_dict())
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_official_checkpoint(model, tmp_path / "nope.pth")
    missing = {k: v for k, v in sd.items() if k != "id_norm.weight"}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="1 missing keys: id_norm.weight"):
        load_official_checkpoint(build_deaot("deaot-t"), tmp_path / "missing.pth")
    torch.save({**sd, "LSTT.mask_token": torch.zeros(1)}, tmp_path / "extra.pth")
    with pytest.raises(ValueError, match="unexpected keys: LSTT.mask_token"):
        load_official_checkpoint(build_deaot("deaot-t"), tmp_path / "extra.pth")
    torch.save(build_deaot("deaot-s").state_dict(), tmp_path / "s.pth")
    with pytest.raises(ValueError, match="LSTT.layers.1.linear_ID_U"):
        load_official_checkpoint(build_deaot("deaot-t"), tmp_path / "s.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        load_official_checkpoint(build_deaot("deaot-t"), tmp_path / "junk.pth")


# ------------------------------------------------------------------- segment_video


def _video(T=4, seed=0, h=H, w=W):
    g = np.random.default_rng(seed)
    base = g.integers(0, 255, (h, w, 3)).astype(np.uint8)
    frames = [np.roll(base, 2 * t, axis=1) for t in range(T)]
    return frames, _blobs(2, seed, h, w).astype(np.uint8)


def test_segment_video_outputs(model):
    frames, mask = _video()
    out = segment_video(model, frames, mask)
    assert len(out) == len(frames)
    np.testing.assert_array_equal(out[0], mask)
    for m in out[1:]:
        assert m.shape == mask.shape and m.dtype == np.uint8 and m.max() <= 2


def test_flip_tta_is_mirror_symmetric(model):
    # Flip TTA averages the original and the mirrored run, so mirroring the input video
    # must mirror the output exactly (the two engines swap roles).
    frames, mask = _video(T=3, seed=3)
    out = segment_video(model, frames, mask, flip=True)
    mirrored = segment_video(
        model, [f[:, ::-1].copy() for f in frames], mask[:, ::-1].copy(), flip=True
    )
    for a, b in zip(out, mirrored):
        np.testing.assert_array_equal(a, b[:, ::-1])
    plain = segment_video(model, frames, mask)
    mirrored_plain = segment_video(
        model, [f[:, ::-1].copy() for f in frames], mask[:, ::-1].copy()
    )
    assert any((a != b[:, ::-1]).any() for a, b in zip(plain, mirrored_plain)), (
        "without TTA the model is not mirror-symmetric, so the test above is informative"
    )


# ------------------------------------------------------------------- CLI


def _write_davis(root: Path, seqs=("aa", "bb"), T=3):
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("\n".join(seqs) + "\n")
    for i, s in enumerate(seqs):
        frames, mask = _video(T, seed=i, h=48, w=80)  # not 16k+1: resized inside
        (root / "JPEGImages" / "480p" / s).mkdir(parents=True)
        for t, f in enumerate(frames):
            cv2.imwrite(
                str(root / "JPEGImages" / "480p" / s / f"{t:05d}.jpg"), f[..., ::-1]
            )
            write_mask(root / "Annotations" / "480p" / s / f"{t:05d}.png", mask)


def test_cli_segment_davis_and_single(tmp_path, model, capsys):
    ckpt = tmp_path / "ckpt.pth"
    torch.save(
        {"state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, ckpt
    )
    davis = tmp_path / "DAVIS"
    _write_davis(davis)
    res = tmp_path / "results"
    args = [
        "vos",
        "segment",
        "--davis-root",
        str(davis),
        "--out",
        str(res),
        "--checkpoint",
        str(ckpt),
        "--model",
        "deaot-t",
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    for s in ("aa", "bb"):
        names = sorted(p.name for p in (res / s).iterdir())
        assert names == ["00000.png", "00001.png", "00002.png"]
        gt = read_mask(davis / "Annotations" / "480p" / s / "00000.png")
        np.testing.assert_array_equal(read_mask(res / s / "00000.png"), gt)
        assert read_mask(res / s / "00002.png").shape == (48, 80)
    assert main(args) == 0 and "2 already done" in capsys.readouterr().out  # resume
    # other settings on the same folder: refused (the old PNGs would be kept silently)
    assert main(args + ["--flip"]) == 2
    assert "flip: False -> True" in capsys.readouterr().err
    assert main(args + ["--flip", "--redo"]) == 0  # recomputed with the new settings
    assert "0 already done" in capsys.readouterr().out
    assert main(args) == 2  # and now the record names the flip run
    capsys.readouterr()
    assert main(args + ["--redo"]) == 0
    # the layout is the one ``mvk vos eval`` reads
    assert (
        main(
            [
                "vos",
                "eval",
                "--davis-root",
                str(davis),
                "--results",
                str(res),
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert (res / "global_results-val.csv").is_file()
    out = tmp_path / "single"
    assert (
        main(
            [
                "vos",
                "segment",
                "--frames",
                str(davis / "JPEGImages" / "480p" / "aa"),
                "--first-mask",
                str(davis / "Annotations" / "480p" / "aa" / "00000.png"),
                "--out",
                str(out),
                "--checkpoint",
                str(ckpt),
                "--flip",
                "--max-short-edge",
                "40",  # 48x80 -> 40x66 -> input 33x65
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "00000.png",
        "00001.png",
        "00002.png",
        "mvk_run.json",  # what produced them (model, checkpoint hash, settings)
    ]


def test_cli_segment_errors(tmp_path, model, capsys):
    ckpt = tmp_path / "ckpt.pth"
    torch.save(model.state_dict(), ckpt)
    assert (
        main(["vos", "segment", "--out", str(tmp_path), "--checkpoint", str(ckpt)]) == 2
    )
    assert "either --frames" in capsys.readouterr().err
    assert (
        main(
            [
                "vos",
                "segment",
                "--davis-root",
                str(tmp_path),
                "--out",
                str(tmp_path),
                "--checkpoint",
                str(tmp_path / "missing.pth"),
            ]
        )
        == 2
    )
    assert "missing.pth" in capsys.readouterr().err
    assert (
        main(
            [
                "vos",
                "segment",
                "--davis-root",
                str(tmp_path),
                "--out",
                str(tmp_path),
                "--checkpoint",
                str(ckpt),
                "--model",
                "deaot-s",
            ]
        )
        == 2
    )
    assert "missing keys" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_runs_and_stays_close(model, dtype):
    # the GPU path uses float16 autocast; CPU autocast exercises the same dtype handling
    # (masked logits must not overflow float16, statistics stay in float32)
    g = torch.Generator().manual_seed(2)
    frames = [torch.randn(1, 3, H, W, generator=g) for _ in range(3)]
    mask = torch.from_numpy(_blobs(12, 2)).view(1, 1, H, W)  # two groups
    ref = DeAOTEngine(model)
    ref.add_reference(frames[0], mask, 12)
    expected = ref.propagate(frames[1])
    with torch.autocast("cpu", dtype=dtype):
        e = DeAOTEngine(model)
        e.add_reference(frames[0], mask, 12)
        out = e.propagate(frames[1])
        e.update_memory(out.argmax(1, keepdim=True))
        assert torch.isfinite(e.propagate(frames[2])).all()
    assert torch.isfinite(out).all()
    prob_err = (torch.softmax(out.float(), 1) - torch.softmax(expected, 1)).abs().max()
    assert prob_err < 0.05


def test_cli_segment_with_the_shipped_deaot_mini(tmp_path, capsys):
    davis = tmp_path / "DAVIS"
    _write_davis(davis, seqs=("aa",))
    res = tmp_path / "res"
    base = ["vos", "segment", "--davis-root", str(davis), "--out", str(res), "--device", "cpu"]
    assert main(base + ["--model", "deaot-mini"]) == 0  # no --checkpoint: shipped weights
    assert sorted(p.name for p in (res / "aa").iterdir()) == [
        "00000.png", "00001.png", "00002.png"
    ]
    # the baseline and the ablation ship too, and go through the same command
    for other in ("aot-mini", "deaot-mini-single"):
        out = tmp_path / other
        assert main(base[:5] + [str(out), "--device", "cpu", "--model", other]) == 0
        assert len(list((out / "aa").iterdir())) == 3
    capsys.readouterr()
    # an official model has no shipped weights: a clean error naming those that do
    assert main(base[:5] + [str(tmp_path / "other"), "--model", "deaot-t"]) == 2
    assert "deaot-mini" in capsys.readouterr().err
