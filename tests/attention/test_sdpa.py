"""scaled_dot_product_attention against F.scaled_dot_product_attention and invariants."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mvk_tutorial.attention.masks import causal_mask, padding_mask
from mvk_tutorial.attention.sdpa import (
    attention_flops,
    scaled_dot_product_attention,
    stable_softmax,
)

TOL = {torch.float64: 1e-12, torch.float32: 1e-5}


@st.composite
def attention_inputs(draw):
    dtype = draw(st.sampled_from([torch.float64, torch.float32]))
    lead = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    n_q, n_k = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    d_k, d_v = draw(st.integers(1, 16)), draw(st.integers(1, 16))
    kind = draw(st.sampled_from(["none", "bool", "float", "bool_bcast", "neg_inf"]))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, n_q, d_k, generator=g, dtype=dtype)
    k = torch.randn(*lead, n_k, d_k, generator=g, dtype=dtype)
    v = torch.randn(*lead, n_k, d_v, generator=g, dtype=dtype)
    mask = None
    if kind == "bool":
        mask = torch.rand(*lead, n_q, n_k, generator=g) > 0.3
    elif kind == "bool_bcast":
        mask = torch.rand(1, n_k, generator=g) > 0.3
    elif kind == "float":
        mask = torch.randn(n_q, n_k, generator=g, dtype=dtype)
    elif kind == "neg_inf":
        mask = torch.zeros(n_q, n_k, dtype=dtype)
        mask[torch.rand(n_q, n_k, generator=g) > 0.6] = float("-inf")
    return q, k, v, mask


@settings(max_examples=150, deadline=None)
@given(attention_inputs())
def test_matches_torch_sdpa(inputs):
    q, k, v, mask = inputs
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    got = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    tol = TOL[q.dtype]
    torch.testing.assert_close(got, expected, atol=tol, rtol=tol)


def test_explicit_formula_small_case():
    # Hand-computable: one query, two keys, d_k = 1.
    q = torch.tensor([[2.0]], dtype=torch.float64)
    k = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    v = torch.tensor([[10.0], [20.0]], dtype=torch.float64)
    w1 = math.exp(2.0) / (math.exp(2.0) + 1.0)
    out, w = scaled_dot_product_attention(q, k, v, return_weights=True)
    assert abs(w[0, 0].item() - w1) < 1e-14
    assert abs(out.item() - (10 * w1 + 20 * (1 - w1))) < 1e-12


def test_fully_masked_rows_are_zero_like_torch():
    g = torch.Generator().manual_seed(0)
    q, k, v = (
        torch.randn(2, 4, 5, 8, generator=g, dtype=torch.float64) for _ in range(3)
    )
    mask = torch.ones(5, 5, dtype=torch.bool)
    mask[2] = False
    out, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    assert torch.isfinite(out).all() and torch.isfinite(w).all()
    assert (out[..., 2, :] == 0).all() and (w[..., 2, :] == 0).all()
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    )


def test_weights_are_distributions():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(3, 6, 4, generator=g) for _ in range(3))
    _, w = scaled_dot_product_attention(q, k, v, return_weights=True)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 6))


def test_stable_softmax_large_logits():
    x = torch.tensor([[1000.0, 1001.0, 999.0], [-1e4, -1e4 + 1, -1e4]])
    torch.testing.assert_close(stable_softmax(x), torch.softmax(x, -1))
    assert torch.isfinite(stable_softmax(x)).all()


def test_permutation_equivariance_in_queries_and_invariance_in_keys():
    g = torch.Generator().manual_seed(2)
    q = torch.randn(7, 5, generator=g, dtype=torch.float64)
    k = torch.randn(9, 5, generator=g, dtype=torch.float64)
    v = torch.randn(9, 3, generator=g, dtype=torch.float64)
    pq, pk = torch.randperm(7, generator=g), torch.randperm(9, generator=g)
    out = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(scaled_dot_product_attention(q[pq], k, v), out[pq])
    torch.testing.assert_close(scaled_dot_product_attention(q, k[pk], v[pk]), out)


def test_dropout_matches_torch_in_expectation_and_masks_weights():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 4, 3) for _ in range(3))
    out, w = scaled_dot_product_attention(q, k, v, dropout_p=0.5, return_weights=True)
    _, w0 = scaled_dot_product_attention(q, k, v, return_weights=True)
    kept = w != 0
    torch.testing.assert_close(
        w[kept], 2 * w0[kept]
    )  # inverted dropout rescales by 1/(1-p)
    torch.testing.assert_close(out, w @ v)


def test_causal_and_padding_masks_match_torch():
    g = torch.Generator().manual_seed(3)
    q, k, v = (
        torch.randn(2, 3, 6, 4, generator=g, dtype=torch.float64) for _ in range(3)
    )
    causal = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, causal_mask(6)), causal
    )
    assert torch.equal(causal_mask(3), torch.tril(torch.ones(3, 3, dtype=torch.bool)))
    pm = padding_mask([6, 2])  # (2, 1, 1, 6)
    assert pm.shape == (2, 1, 1, 6) and pm[1, 0, 0].tolist() == [True] * 2 + [False] * 4
    # Padded keys must have no influence: changing them changes nothing.
    k2, v2 = k.clone(), v.clone()
    k2[1, :, 2:] += 100.0
    v2[1, :, 2:] -= 50.0
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, pm),
        scaled_dot_product_attention(q, k2, v2, pm),
    )


def test_causal_mask_rectangular_matches_tril_offset():
    assert torch.equal(causal_mask(2, 5), torch.ones(2, 5, dtype=torch.bool).tril(3))


@pytest.mark.parametrize(
    "shapes, msg",
    [
        (((3, 4), (5, 3), (5, 2)), "d_k"),
        (((3, 4), (5, 4), (6, 2)), "n_k"),
        (((4,), (5, 4), (5, 2)), "q:"),
    ],
)
def test_bad_shapes_raise_named_errors(shapes, msg):
    q, k, v = (torch.randn(*s) for s in shapes)
    with pytest.raises(ValueError, match=msg):
        scaled_dot_product_attention(q, k, v)


def test_bad_mask_shape_raises():
    q, k, v = torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)
    with pytest.raises(ValueError, match="attn_mask"):
        scaled_dot_product_attention(q, k, v, torch.ones(3, 4, dtype=torch.bool))


def test_attention_flops_convention():
    assert attention_flops(256, 256, 64) == 4 * 256**2 * 64
    assert attention_flops(2, 3, 4, 5) == 2 * 2 * 3 * 4 + 2 * 2 * 3 * 5
