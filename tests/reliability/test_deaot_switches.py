"""Benchmark switches are per model; apply_gate leaves its input alone."""

from __future__ import annotations

import torch

from mvk_tutorial.vos.deaot import build_deaot
from mvk_tutorial.vos.deaot.attention import LocalGatedPropagation, apply_gate
from mvk_tutorial.vos.deaot.encoders import ConvBNReLU
from mvk_tutorial.vos.deaot.switches import official_paths


def _flags(model):
    return {
        (type(m).__name__, getattr(m, "dense_fallback", getattr(m, "fold_bn", None)))
        for m in model.modules()
        if isinstance(m, (LocalGatedPropagation, ConvBNReLU))
    }


def test_switches_affect_one_model_only():
    a, b = build_deaot("deaot-t"), build_deaot("deaot-t")
    before = _flags(b)
    with official_paths(a):
        assert all(m.dense_fallback for m in a.modules() if isinstance(m, LocalGatedPropagation))
        assert not any(m.fold_bn for m in a.modules() if isinstance(m, ConvBNReLU))
        assert _flags(b) == before  # the other model keeps the fast paths
    assert _flags(a) == before
    assert "fold_bn" not in vars(ConvBNReLU) and "dense_fallback" not in vars(LocalGatedPropagation)


def test_official_paths_give_the_same_encoder_output():
    torch.manual_seed(0)
    model = build_deaot("deaot-t").eval()
    x = torch.randn(1, 3, 65, 97)
    with torch.no_grad():
        fast = model.encoder(x)
        with official_paths(model):
            slow = model.encoder(x)
    for f, s in zip(fast, slow):
        torch.testing.assert_close(f, s, atol=1e-4, rtol=1e-4)


def test_apply_gate_does_not_mutate_its_input():
    x = torch.randn(5, 2, 8)
    U = torch.randn(5, 2, 4)
    x0 = x.clone()
    out = apply_gate(x, U)
    assert torch.equal(x, x0)
    torch.testing.assert_close(out, torch.cat([x0[..., :4] * U, x0[..., 4:]], -1))
    full = torch.randn(5, 2, 8)
    torch.testing.assert_close(apply_gate(x, full), x0 * full)


def test_apply_gate_is_differentiable_on_a_leaf():
    x = torch.randn(3, 1, 6, requires_grad=True)
    U = torch.randn(3, 1, 2, requires_grad=True)
    apply_gate(x, U).sum().backward()  # in place on a leaf used to raise here
    expected = torch.ones(3, 1, 6)
    expected[..., :2] = U.detach()
    torch.testing.assert_close(x.grad, expected)
