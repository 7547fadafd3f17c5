"""Plots and a widget for attention weights (heatmaps, one query's weights, maps on images).

Book: ch01 "A heatmap of attention weights"; ch02 "Attention maps and rollout".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


def plot_attention_heatmap(
    weights: Tensor,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    ax=None,
    title: str = "",
    annotate: bool = False,
):
    """Heatmap of a (n_q, n_k) weight matrix: rows = queries, columns = keys.

    Book: ch01 "A heatmap of attention weights".
    """
    import matplotlib.pyplot as plt

    w = weights.detach().float().cpu().numpy()
    if w.ndim != 2:
        raise ValueError(f"weights: expected (n_q, n_k), got shape {tuple(w.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.35 * w.shape[1] + 2, 0.35 * w.shape[0] + 1.2))
    im = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=max(float(w.max()), 1e-8))
    for axis, labels, setter in (
        (1, key_labels, ax.set_xticks),
        (0, query_labels, ax.set_yticks),
    ):
        if labels is not None:
            setter(range(w.shape[axis]), labels)
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    if annotate:
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                ax.text(
                    j,
                    i,
                    f"{w[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if w[i, j] < 0.6 * w.max() else "black",
                )
    if title:
        ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_query_weights(
    weights: Tensor, query: int, key_labels: Sequence[str] | None = None, ax=None
):
    """Bar plot of the weights of one query over the keys. Book: ch01."""
    import matplotlib.pyplot as plt

    w = weights.detach().float().cpu().numpy()
    if not 0 <= query < w.shape[0]:
        raise ValueError(f"query: expected 0..{w.shape[0] - 1}, got {query}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 2.5))
    labels = (
        list(key_labels)
        if key_labels is not None
        else [str(j) for j in range(w.shape[1])]
    )
    ax.bar(range(w.shape[1]), w[query], color="tab:blue")
    ax.set_xticks(range(w.shape[1]), labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("weight")
    ax.set_title(f"query {query}: weights sum to {w[query].sum():.2f}")
    return ax


def query_picker(weights: Tensor, key_labels: Sequence[str] | None = None):
    """An ipywidgets slider that picks a query and redraws its weights.

    Book: ch01 "A heatmap of attention weights" (the interactive widget).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(query: int) -> None:
        plot_query_weights(weights, query, key_labels)
        plt.show()

    slider = widgets.IntSlider(
        value=0, min=0, max=weights.shape[0] - 1, description="query"
    )
    return widgets.interactive(show, query=slider)


def cls_attention_grid(attn: Tensor, grid_size: tuple[int, int]) -> Tensor:
    """Class-token row of (B, heads, 1+N, 1+N) weights as maps (B, heads, H/P, W/P).

    Book: ch02 "Attention maps and rollout".
    """
    B, h, n, _ = attn.shape
    if n != 1 + grid_size[0] * grid_size[1]:
        raise ValueError(
            f"attn: {n} tokens do not fit 1 + {grid_size[0]}x{grid_size[1]}"
        )
    return attn[:, :, 0, 1:].reshape(B, h, *grid_size)  # (B, heads, H/P, W/P)


def overlay(
    image: np.ndarray,
    heat: Tensor | np.ndarray,
    ax,
    alpha: float = 0.55,
    title: str = "",
) -> None:
    """Show an RGB uint8 image with a heat map (any grid) upsampled over it. Book: ch02."""
    heat = torch.as_tensor(heat, dtype=torch.float32)[None, None]
    heat = torch.nn.functional.interpolate(
        heat, size=image.shape[:2], mode="bilinear", align_corners=False
    )[0, 0]
    heat = (heat - heat.min()) / (heat.max() - heat.min() + 1e-8)
    ax.imshow(image)
    ax.imshow(heat.numpy(), cmap="inferno", alpha=alpha)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
