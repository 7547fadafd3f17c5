"""early_exit: an image is finished when its class token halts. The logits must equal
those of the full forward (the official fixture, random models, batch 1 and batched),
fewer blocks / tokens must really run, and train mode must ignore the flag."""

from pathlib import Path

import pytest
import torch

from mvk_tutorial.attention.avit import AViT, HaltingConfig
from mvk_tutorial.attention.vit import ViTConfig

FIXTURE = Path(__file__).parents[1] / "fixtures" / "avit" / "avit_official_reference.pt"


def _expected_depth(full_depth: torch.Tensor) -> torch.Tensor:
    """With early exit a token stops at min(its own halting block, its class token's)."""
    return torch.minimum(full_depth, full_depth[:, :1])


class _Counter:
    """Counts the tokens entering each block's first LayerNorm (gather: packed (T, C);
    mask: every token (B, N, C))."""

    def __init__(self, model):
        self.calls = []
        self.handles = [
            blk.norm1.register_forward_hook(self._hook(i)) for i, blk in enumerate(model.blocks)
        ]

    def _hook(self, i):
        def hook(_mod, inputs, _out):
            self.calls.append((i, inputs[0].shape[:-1].numel()))

        return hook

    def close(self):
        for h in self.handles:
            h.remove()


def test_official_fixture_early_exit():
    assert FIXTURE.is_file(), f"missing fixture {FIXTURE}"
    official = torch.load(FIXTURE, weights_only=True)
    x, out = official["inputs"]["x"], official["outputs"]
    full_depth = out["halting_depth"].long()
    assert (full_depth[:, 0] < 4).all(), "fixture: every class token halts before block 4"
    for path in ("mask", "gather"):
        torch.manual_seed(0)
        m = AViT.from_official_config(
            official["config"]["ctor"], official["config"]["args"], token_path=path,
            early_exit=True,
        ).double().eval()  # fmt: skip
        m.load_state_dict(official["state_dict"], strict=True)
        counter = _Counter(m)
        with torch.no_grad():
            logits, depth = m(x, return_depth=True)
        counter.close()
        assert (logits - out["logits"]).abs().max() < 1e-10, path
        assert torch.equal(depth, _expected_depth(full_depth)), path
        blocks_run = sorted({i for i, _ in counter.calls})
        assert blocks_run == list(range(int(full_depth[:, 0].max()))), path
        if path == "gather":  # tokens entering block l: those whose depth exceeds l
            expected = [int((_expected_depth(full_depth) > l).sum()) for l in blocks_run]
            assert [n for _, n in counter.calls] == expected


def _tiny_cfg():
    return ViTConfig(img_size=(16, 24), patch_size=8, num_classes=5, dim=16, depth=4, num_heads=2)


@pytest.mark.parametrize("gate_center", [-2.0, 0.0, 1.0])
@pytest.mark.parametrize("path", ["mask", "gather"])
def test_early_exit_logits_equal_full_forward(gate_center, path):
    torch.manual_seed(4)
    m = AViT(_tiny_cfg(), HaltingConfig(gate_scale=3.0, gate_center=gate_center), token_path=path)
    m = m.double().eval()
    x = torch.randn(6, 3, 16, 24, dtype=torch.float64)
    with torch.no_grad():
        l_full, d_full = m(x, return_depth=True)
        m.early_exit = True
        l_early, d_early = m(x, return_depth=True)
        singles = [m(x[i : i + 1], return_depth=True) for i in range(len(x))]
    assert (l_early - l_full).abs().max() < 1e-10
    assert torch.equal(d_early, _expected_depth(d_full))
    for i, (l1, d1) in enumerate(singles):
        assert (l1 - l_full[i : i + 1]).abs().max() < 1e-10
        assert torch.equal(d1, d_early[i : i + 1])


def test_early_exit_batch1_runs_only_up_to_the_class_token_depth():
    torch.manual_seed(5)
    m = AViT(_tiny_cfg(), HaltingConfig(gate_scale=3.0, gate_center=0.0), token_path="gather")
    m = m.double().eval()
    x = torch.randn(8, 3, 16, 24, dtype=torch.float64)
    with torch.no_grad():
        _, d_full = m(x, return_depth=True)
    assert (d_full[:, 0] < 4).any(), "test needs a class token that halts early"
    m.early_exit = True
    for i in range(len(x)):
        counter = _Counter(m)
        with torch.no_grad():
            m(x[i : i + 1])
        counter.close()
        assert len(counter.calls) == int(d_full[i, 0])


def test_train_mode_ignores_early_exit():
    torch.manual_seed(6)
    cfg = _tiny_cfg()
    a = AViT(cfg, HaltingConfig(gate_scale=3.0, gate_center=0.0), token_path="gather").double()
    b = AViT(cfg, HaltingConfig(gate_scale=3.0, gate_center=0.0), token_path="gather",
             early_exit=True).double()  # fmt: skip
    b.load_state_dict(a.state_dict())
    a.train(), b.train()
    x = torch.randn(4, 3, 16, 24, dtype=torch.float64)
    torch.manual_seed(7)
    la, da = a(x, return_depth=True)
    torch.manual_seed(7)
    lb, db = b(x, return_depth=True)
    assert torch.equal(da, db) and (la - lb).abs().max() < 1e-12
    assert torch.equal(a.rho, b.rho)
    assert (a.halting_score_layer - b.halting_score_layer).abs().max() < 1e-12
