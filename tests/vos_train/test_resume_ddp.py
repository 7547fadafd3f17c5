"""Training: an interrupted + resumed run equals an uninterrupted one; two DDP processes
(gloo, CPU) hold identical replicas equal to one process with the doubled batch."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from mvk_tutorial.vos.train import TrainConfig, train

TINY = dict(model="deaot-mini", steps=4, batch_size=1, clip_len=3, crop=(33, 33),
            warmup=2, checkpoint_every=1, seed=5)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_resumed_run_equals_uninterrupted(mini_davis, tmp_path):
    cfg = TrainConfig(**TINY)
    train(cfg, mini_davis, tmp_path / "a", progress=False)
    out = train(cfg, mini_davis, tmp_path / "b", progress=False, stop_after=2)
    assert out["steps"] == 2 and not (tmp_path / "b" / "model.pt").exists()
    first_s = out["wall_s"]
    out = train(cfg, mini_davis, tmp_path / "b", progress=False)  # resumes at step 2
    assert out["steps_this_run"] == 2
    # the training time of both runs is kept (the sidecar's wall_s_total)
    assert out["wall_s_total"] > out["wall_s"] + 0.5 * first_s  # (less the last save)
    again = train(cfg, mini_davis, tmp_path / "b", progress=False)  # finished: 0 steps
    assert again["steps_this_run"] == 0 and again["wall_s_total"] > 0.8 * out["wall_s_total"]
    a, b = _load(tmp_path / "a" / "model.pt"), _load(tmp_path / "b" / "model.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ca, cb = _load(tmp_path / "a" / "checkpoint.pt"), _load(tmp_path / "b" / "checkpoint.pt")
    for s_a, s_b in zip(ca["optimizer"]["state"].values(), cb["optimizer"]["state"].values()):
        assert torch.equal(s_a["exp_avg_sq"], s_b["exp_avg_sq"])
    assert torch.equal(ca["rng"]["torch"], cb["rng"]["torch"])
    # the weights changed at all (a run that does nothing would also "resume")
    init = TrainConfig(**dict(TINY, steps=1))
    assert any(not torch.equal(a[k], v) for k, v in _init_weights(init).items())


def _init_weights(cfg):
    from mvk_tutorial.vos.train import build_model

    torch.manual_seed(cfg.seed)
    return build_model(cfg.model).state_dict()


def test_resume_refuses_another_config(mini_davis, tmp_path):
    train(TrainConfig(**dict(TINY, steps=1)), mini_davis, tmp_path, progress=False)
    with pytest.raises(ValueError, match="another configuration"):
        train(TrainConfig(**dict(TINY, steps=1, lr=0.5)), mini_davis, tmp_path,
              progress=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, davis, out, cfg_kwargs):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import torch.distributed as dist

    res = train(TrainConfig(**cfg_kwargs), davis, out, progress=False, device="cpu")
    torch.save(res["model"].state_dict(), os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


def test_ddp_two_processes_equal_one_with_doubled_batch(mini_davis, tmp_path):
    """The exact relation: DDP averages the two ranks' gradients, and the loss is a
    per-clip mean, so the averaged gradient is the gradient of one process on both
    ranks' clips; the weights then agree up to float summation order (amplified a
    little by Adam's normalisation), while a run on rank 0's clips alone differs."""
    kw = dict(TINY, steps=2, checkpoint_every=10)
    ddp_dir = tmp_path / "ddp"
    ddp_dir.mkdir()
    mp.start_processes(_worker, args=(2, _free_port(), str(mini_davis), str(ddp_dir), kw),
                       nprocs=2, join=True, start_method="spawn")
    r0, r1 = _load(ddp_dir / "rank0.pt"), _load(ddp_dir / "rank1.pt")

    def run(batch, name):
        cfg = TrainConfig(**dict(kw, batch_size=batch))
        return train(cfg, mini_davis, tmp_path / name, progress=False)["model"].state_dict()

    double, half = run(2, "double"), run(1, "half")
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"replicas differ at {k}"
        torch.testing.assert_close(r0[k], double[k], rtol=1e-3, atol=5e-5, msg=k)
    d_double = max(float((r0[k] - double[k]).abs().max()) for k in r0)
    d_half = max(float((r0[k] - half[k]).abs().max()) for k in r0)
    assert d_double < 0.1 * d_half, (d_double, d_half)


def test_init_from_starts_from_the_given_weights(mini_davis, tmp_path):
    torch.manual_seed(123)
    from mvk_tutorial.vos.train import build_model

    start = build_model("deaot-mini").state_dict()
    torch.save(start, tmp_path / "start.pt")
    cfg = TrainConfig(**dict(TINY, steps=1, lr=0.0, min_lr=0.0,
                             init_from=str(tmp_path / "start.pt")))
    out = train(cfg, mini_davis, tmp_path / "run", progress=False)["model"].state_dict()
    for k, v in start.items():  # a zero learning rate leaves the start weights as they were
        assert torch.equal(out[k], v), k
    seeded = _init_weights(cfg)
    assert any(not torch.equal(seeded[k], v) for k, v in start.items())
