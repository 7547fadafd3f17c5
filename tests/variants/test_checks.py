"""The ch03 exercise checks pass the right answer and fail, with a hint, on wrong ones."""

import pytest
import torch
import torch.nn.functional as F

from mvk_tutorial import checks


def _partition_brute(x, M):
    B, H, W, C = x.shape
    wins = [x[b, i : i + M, j : j + M] for b in range(B) for i in range(0, H, M) for j in range(0, W, M)]
    return torch.stack(wins)


def _mask_brute(H, W, M, s):
    lab = torch.zeros(H, W)
    for a, hs in enumerate((slice(0, -M), slice(-M, -s), slice(-s, None))):
        for b, ws in enumerate((slice(0, -M), slice(-M, -s), slice(-s, None))):
            lab[hs, ws] = 3 * a + b
    wins = _partition_brute(lab.view(1, H, W, 1), M).view(-1, M * M)
    return torch.where(wins[:, :, None] == wins[:, None, :], 0.0, -100.0)


def _bilinear_grid_sample(img, y, x):
    H, W = img.shape[-2:]
    grid = torch.stack([(x + 0.5) / W * 2 - 1, (y + 0.5) / H * 2 - 1], -1)[:, None]
    return F.grid_sample(img, grid, align_corners=False)[:, :, 0]


RIGHT = {
    "window_partition": _partition_brute,
    "shift_mask": _mask_brute,
    "bilinear_sample": _bilinear_grid_sample,
}

WRONG = {
    "window_partition": [
        lambda x, M: _partition_brute(x.transpose(1, 2), M).transpose(1, 2),  # column-major
        lambda x, M: x.reshape(-1, M, M, x.shape[-1]),  # no permute
    ],
    "shift_mask": [
        lambda H, W, M, s: _mask_brute(H, W, M, s).transpose(0, 0) * 0,  # all zeros
        lambda H, W, M, s: torch.where(_mask_brute(H, W, M, s) < 0, float("-inf"), 0.0)[:1],
    ],
    "bilinear_sample": [
        lambda img, y, x: _bilinear_grid_sample(img, x, y),  # axes swapped
        lambda img, y, x: F.grid_sample(
            img, torch.stack([x / (img.shape[-1] - 1) * 2 - 1, y / (img.shape[-2] - 1) * 2 - 1], -1)[:, None],
            align_corners=True, padding_mode="border")[:, :, 0],  # border instead of zeros
    ],
}


@pytest.mark.parametrize("name", list(RIGHT))
def test_right_answer_passes(name, capsys):
    getattr(checks, name)(RIGHT[name])
    assert capsys.readouterr().out.startswith(f"PASSED {name}")


@pytest.mark.parametrize("name", list(RIGHT))
def test_wrong_nan_none_and_bad_types_fail_with_a_hint(name):
    right = RIGHT[name]
    bad = list(WRONG[name]) + [
        lambda *a: right(*a) * float("nan"),  # NaN
        lambda *a: None,  # forgot to return
        lambda *a: right(*a).tolist(),  # wrong type
        lambda *a: 1 / 0,  # crashes
    ]
    for fn in bad:
        with pytest.raises(AssertionError, match="Hint"):
            getattr(checks, name)(fn)
    with pytest.raises(AssertionError, match="expected a function"):
        getattr(checks, name)(None)


@pytest.mark.parametrize("name", list(RIGHT))
def test_unanswered_exercise_passes_through(name):
    def todo(*a):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        getattr(checks, name)(todo)
