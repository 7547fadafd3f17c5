"""Attention plots and the query-picking widget."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from mvk_tutorial.attention.plots import (
    cls_attention_grid,
    overlay,
    plot_attention_heatmap,
    plot_query_weights,
    query_picker,
)


def test_heatmap_shows_the_matrix():
    w = torch.softmax(torch.randn(3, 5), -1)
    ax = plot_attention_heatmap(w, ["a", "b", "c"], list("vwxyz"), annotate=True)
    np.testing.assert_allclose(ax.images[0].get_array(), w.numpy(), rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == list("vwxyz")
    with pytest.raises(ValueError, match="n_q, n_k"):
        plot_attention_heatmap(torch.rand(2, 3, 4))


def test_query_weights_and_widget():
    w = torch.softmax(torch.randn(4, 6), -1)
    ax = plot_query_weights(w, 2)
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, w[2].numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="query"):
        plot_query_weights(w, 4)
    widget = query_picker(w)
    assert widget.children[0].max == 3


def test_cls_attention_grid_takes_the_class_row():
    attn = torch.rand(2, 3, 1 + 6, 1 + 6)
    grid = cls_attention_grid(attn, (2, 3))
    assert grid.shape == (2, 3, 2, 3)
    assert torch.equal(grid[1, 2, 1, 0], attn[1, 2, 0, 1 + 3])
    with pytest.raises(ValueError, match="tokens"):
        cls_attention_grid(attn, (3, 3))


def test_overlay_draws_image_and_heat():
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    overlay(np.zeros((8, 12, 3), np.uint8), torch.rand(2, 3), ax, title="t")
    assert len(ax.images) == 2 and ax.images[1].get_array().shape == (8, 12)
