"""Pictures of the official boundary map and of the F-measure's matching (ch07).

Book: ch07, section "Contour accuracy $\\mathcal{F}$".
"""

from __future__ import annotations

import numpy as np
from mvk_tutorial.vos.metrics import disk, seg2bmap


def plot_boundary_offset(mask: np.ndarray, ax) -> np.ndarray:
    """Draw a small boolean mask pixel by pixel with its official boundary on top.

    Mask pixels are grey, the true contour of the mask (the line between pixels) is
    blue, and the boundary pixels of the official map are red squares: above and left
    of the mask they lie outside it, below and right inside it, half a pixel towards
    the top-left of the contour. Returns the boundary map.

    Book: ch07, section "Contour accuracy $\\mathcal{F}$".
    """
    from matplotlib.patches import Rectangle


    mask = np.asarray(mask, dtype=bool)
    bmap = seg2bmap(mask)
    H, W = mask.shape
    ax.imshow(mask, cmap="Greys", vmin=0, vmax=2.5, interpolation="nearest")
    for y, x in zip(*np.nonzero(bmap)):
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, ec="red", lw=2))
    # the contour: edges between a mask pixel and a non-mask pixel (or the border)
    padded = np.pad(mask, 1)
    for y in range(H + 1):
        for x in range(W):
            if padded[y, x + 1] != padded[y + 1, x + 1]:
                ax.plot([x - 0.5, x + 0.5], [y - 0.5, y - 0.5], color="tab:blue", lw=2)
    for y in range(H):
        for x in range(W + 1):
            if padded[y + 1, x] != padded[y + 1, x + 1]:
                ax.plot([x - 0.5, x - 0.5], [y - 0.5, y + 0.5], color="tab:blue", lw=2)
    ax.set_xticks(np.arange(-0.5, W, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, H, 1), minor=True)
    ax.grid(which="minor", color="white", lw=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    return bmap


def plot_boundary_matching(
    gt: np.ndarray, pred: np.ndarray, radius: int, axes
) -> dict[str, float]:
    """Three panels: gt mask with its boundary; precision and recall matching.

    Returns the boundary pixel counts and the precision, recall and F of the
    official tolerance test with a disk of ``radius`` pixels.

    Book: ch07, section "Contour accuracy $\\mathcal{F}$".
    """
    import cv2


    b_gt, b_pred = seg2bmap(gt), seg2bmap(pred)
    gt_dil = cv2.dilate(b_gt.astype(np.uint8), disk(radius)).astype(bool)
    pred_dil = cv2.dilate(b_pred.astype(np.uint8), disk(radius)).astype(bool)
    precision = (b_pred & gt_dil).sum() / max(b_pred.sum(), 1)
    recall = (b_gt & pred_dil).sum() / max(b_gt.sum(), 1)

    def show(ax, base, base_cmap, pixels, dilated, title):
        ax.imshow(base, cmap=base_cmap, alpha=0.4)
        hit, miss = pixels & dilated, pixels & ~dilated
        ax.imshow(np.ma.masked_where(~hit, hit), cmap="summer", interpolation="nearest")
        ax.imshow(np.ma.masked_where(~miss, miss), cmap="autumn", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])

    axes[0].imshow(gt, cmap="Greys", alpha=0.35)
    axes[0].imshow(np.ma.masked_where(~b_gt, b_gt), cmap="autumn", interpolation="nearest")
    axes[0].imshow(np.ma.masked_where(~b_pred, b_pred), cmap="cool", alpha=0.7,
                   interpolation="nearest")
    axes[0].set_title("gt mask (grey), gt boundary (red),\npredicted box boundary (blue)",
                      fontsize=9)
    axes[0].set_xticks([]), axes[0].set_yticks([])
    show(axes[1], gt_dil, "Blues", b_pred, gt_dil,
         f"precision: gt boundary dilated by disk({radius}) (blue);\n"
         "pred boundary matched (green) / not (red)")
    show(axes[2], pred_dil, "Blues", b_gt, pred_dil,
         "recall: pred boundary dilated (blue);\ngt boundary matched (green) / not (red)")
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"gt_pixels": int(b_gt.sum()), "pred_pixels": int(b_pred.sum()),
            "precision": float(precision), "recall": float(recall), "F": float(f)}
