"""The ch08 exercise check accepts the reference and catches a classic mistake."""

import pytest
import torch
import torch.nn.functional as F

from mvk_tutorial import checks
from mvk_tutorial.vos.deaot.attention import local_attention_windowed


def _unmasked(q, k, v, rel, max_dis):
    """Wrong: zero-padded out-of-image keys take part in the softmax."""
    B, h, w, d = q.shape
    r, ws = max_dis, 2 * max_dis + 1
    kp = F.pad(k, (0, 0, r, r, r, r))
    vp = F.pad(v, (0, 0, r, r, r, r))
    logits = (
        torch.stack(
            [
                (q * kp[:, dy : dy + h, dx : dx + w]).sum(-1)
                for dy in range(ws)
                for dx in range(ws)
            ],
            -1,
        )
        + rel
    )
    a = torch.softmax(logits, -1)
    return sum(
        a[..., dy * ws + dx, None] * vp[:, dy : dy + h, dx : dx + w]
        for dy in range(ws)
        for dx in range(ws)
    )


def test_reference_passes(capsys):
    checks.window_attention(
        lambda q, k, v, rel, r: local_attention_windowed(q, k, v, rel, r)
    )
    assert "PASSED window_attention" in capsys.readouterr().out


def test_unmasked_borders_are_caught():
    with pytest.raises(AssertionError):
        checks.window_attention(_unmasked)
