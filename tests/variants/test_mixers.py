"""The mixers' FLOP formulas (used by the benchmark and ch03) against torch's FLOP counter."""

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from mvk_tutorial.attention.mixers import DATMixer, DeformConvMixer, GlobalMixer, WindowMixer


@pytest.mark.parametrize(
    "make,H,W",
    [
        (lambda H, W: GlobalMixer(32, 2), 14, 21),
        (lambda H, W: WindowMixer(32, 2, 7, 3), 14, 21),
        (lambda H, W: DeformConvMixer(32, offset_std=0.1), 10, 13),
        (lambda H, W: DATMixer(32, 2, H, W, stride=2, stage_idx=0), 12, 10),
        (lambda H, W: DATMixer(32, 4, H, W, stride=4, groups=2, stage_idx=2), 16, 12),
    ],
)
def test_flop_formula_matches_the_counter(make, H, W):
    m = make(H, W)
    x = torch.randn(1, 32, H, W)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        y = m(x)
    assert y.shape == x.shape
    assert fc.get_total_flops() == m.flops(H, W)


def test_deform_columns_are_nine_times_the_input():
    m = DeformConvMixer(8)
    assert m.columns_bytes(2, 5, 7) == 9 * 2 * 8 * 5 * 7 * 4
