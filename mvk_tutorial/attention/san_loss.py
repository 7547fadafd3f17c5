"""SAN's training loss: Hungarian matching of proposals to ground-truth class masks.

SAN trains like MaskFormer / Mask2Former (Cheng et al., arXiv:2112.01527): each
ground-truth segment (here: all pixels of one class in a frame) is matched to one query
by the Hungarian algorithm on a cost of class probability, mask BCE and mask Dice;
matched queries learn the class and the mask, the other queries learn "no object".

> the loss of mask generation ... is computed by the binary cross-entropy loss and the
> dice loss ... the loss of mask recognition is the cross-entropy loss.

Book: ch06, section "Training on MVK-mini".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def linear_assignment(cost: Tensor) -> tuple[list[int], list[int]]:
    """Minimum-cost matching of the rows of ``cost`` (G, Q), G <= Q, to distinct columns.

    The Hungarian algorithm with potentials (Kuhn-Munkres, O(G^2 Q)); returns
    (rows, cols) sorted by row. Book: ch06, section "Training on MVK-mini".
    """
    G, Q = cost.shape
    if G > Q:
        raise ValueError(
            f"cost: expected rows <= columns, got shape {tuple(cost.shape)}"
        )
    c = cost.detach().double().tolist()
    inf = float("inf")
    u, v = [0.0] * (G + 1), [0.0] * (Q + 1)
    match = [0] * (Q + 1)  # match[j]: 1-based row matched to column j (0 = none)
    for i in range(1, G + 1):
        match[0], j0 = i, 0
        minv, used, way = [inf] * (Q + 1), [False] * (Q + 1), [0] * (Q + 1)
        while match[j0]:
            used[j0], i0, delta, j1 = True, match[j0], inf, 0
            for j in range(1, Q + 1):
                if not used[j]:
                    cur = c[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(Q + 1):
                if used[j]:
                    u[match[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
        while j0:  # augment along the alternating path
            j1 = way[j0]
            match[j0] = match[j1]
            j0 = j1
    pairs = sorted((match[j] - 1, j - 1) for j in range(1, Q + 1) if match[j])
    return [r for r, _ in pairs], [q for _, q in pairs]


def dice_loss(logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """1 - Dice of sigmoid(logits) (N, P) against binary targets (N, P) on valid pixels.

    Book: ch06, section "Training on MVK-mini".
    """
    p = logits.sigmoid() * valid
    num = 2 * (p * target).sum(-1) + 1
    den = p.sum(-1) + (target * valid).sum(-1) + 1
    return 1 - num / den


def _pairwise_costs(mask: Tensor, gt: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """BCE and Dice cost of every (ground truth, query) pair: each (G, Q)."""
    n = valid.sum().clamp(min=1)
    pos = F.binary_cross_entropy_with_logits(
        mask, torch.ones_like(mask), reduction="none"
    )
    neg = F.binary_cross_entropy_with_logits(
        mask, torch.zeros_like(mask), reduction="none"
    )
    bce = ((gt * valid) @ pos.T + ((1 - gt) * valid) @ neg.T) / n  # (G, Q)
    p = mask.sigmoid() * valid  # (Q, P)
    dice = 1 - (2 * gt @ p.T + 1) / (
        (gt * valid).sum(-1)[:, None] + p.sum(-1)[None] + 1
    )
    return bce, dice


def set_criterion(
    mask_pred: Tensor,
    logits: Tensor,
    target: Tensor,
    num_classes: int,
    ignore_index: int = 255,
    weights: tuple[float, float, float] = (2.0, 5.0, 5.0),
    no_object_weight: float = 0.1,
) -> Tensor:
    """Mask2Former-style loss of one depth, averaged over the batch.

    ``mask_pred`` (B, Q, h, w) logits at the target's size; ``logits`` (B, Q, K+1)
    (last = no object); ``target`` (B, h, w) class ids in [0, K] or ``ignore_index``;
    id K marks a "no object" segment (the background, when it has no text): its
    matched query learns the mask and the "no object" class.
    ``weights`` = (class, BCE, Dice), Mask2Former's values. Book: ch06, section
    "Training on MVK-mini".
    """
    B, Q = logits.shape[:2]
    class_weight = torch.ones(num_classes + 1, device=logits.device, dtype=logits.dtype)
    class_weight[-1] = no_object_weight
    total = logits.new_zeros(())
    for b in range(B):
        t = target[b].flatten()  # (P,)
        valid = (t != ignore_index).to(mask_pred.dtype)  # (P,)
        classes = [k for k in t.unique().tolist() if k != ignore_index]
        if not 0 <= min(classes + [0]) <= max(classes + [0]) <= num_classes:
            raise ValueError(
                f"target: class ids must be in [0, {num_classes}] or {ignore_index}"
            )
        mask = mask_pred[b].flatten(1)  # (Q, P)
        gt = (
            torch.stack([(t == k).to(mask.dtype) for k in classes])
            if classes
            else mask[:0]
        )
        labels = torch.full((Q,), num_classes, dtype=torch.long, device=logits.device)
        if classes:
            with torch.no_grad():
                prob = logits[b].softmax(-1)[:, classes].T  # (G, Q)
                bce, dice = _pairwise_costs(mask, gt, valid)
                cost = -weights[0] * prob + weights[1] * bce + weights[2] * dice
            rows, cols = linear_assignment(cost)
            labels[cols] = torch.tensor(
                [classes[r] for r in rows], device=logits.device
            )
            m, g = mask[cols], gt[rows]  # (G, P) each
            bce_m = F.binary_cross_entropy_with_logits(m, g, reduction="none")
            bce_m = (bce_m * valid).sum(-1) / valid.sum().clamp(min=1)
            total = (
                total
                + weights[1] * bce_m.mean()
                + weights[2] * dice_loss(m, g, valid).mean()
            )
        total = total + weights[0] * F.cross_entropy(
            logits[b], labels, weight=class_weight
        )
    return total / B
