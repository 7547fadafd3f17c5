"""The training losses of aot-benchmark: bootstrapped cross-entropy + soft Jaccard.

- Bootstrapped cross-entropy: the per-pixel cross-entropy, averaged over the hardest
  ``top_k`` fraction of the pixels only. The fraction starts at 1 (all pixels) and
  decays linearly to ``top_k_percent`` (official 0.15) over ``mining_steps`` steps, so
  training first learns the easy background, then concentrates on the hard pixels.
- Soft Jaccard: ``1 - sum(p * g) / sum(p + g - p * g)`` with soft-max probabilities p
  and one-hot targets g, per channel (background and each object), averaged.

Book: ch08, section "Training DeAOT on MVK-mini".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bootstrap_ratio(step: int, top_k_percent: float = 0.15, mining_steps: int = 0):
    """Fraction of pixels kept by the bootstrapped CE at ``step`` (1 -> top_k_percent).

    Book: ch08, section "Training DeAOT on MVK-mini".
    """
    if mining_steps <= 0:
        return top_k_percent
    left = max(0.0, 1.0 - step / mining_steps)
    return top_k_percent + (1.0 - top_k_percent) * left


def bootstrapped_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, ratio: float
) -> torch.Tensor:
    """Mean of the largest ``ratio`` fraction of per-pixel CE values, per sample, then
    averaged over the batch. logits (B, C, H, W), target (B, H, W) long.

    Book: ch08, section "Training DeAOT on MVK-mini".
    """
    ce = F.cross_entropy(logits.float(), target, reduction="none")  # (B, H, W)
    ce = ce.flatten(1)  # (B, H*W)
    if ratio >= 1.0:
        return ce.mean()
    k = max(1, int(round(ce.shape[1] * ratio)))
    return ce.topk(k, dim=1, sorted=False).values.mean()


def soft_jaccard(
    logits: torch.Tensor, target: torch.Tensor, num_objects: torch.Tensor, eps=1e-5
) -> torch.Tensor:
    """Soft Jaccard loss over background + the ``num_objects[b]`` objects of each sample.

    logits (B, C, H, W), target (B, H, W) long, num_objects (B,) long. Channels above a
    sample's object count are ignored. Book: ch08, section "Training DeAOT on MVK-mini".
    """
    B, C = logits.shape[:2]
    p = torch.softmax(logits.float(), dim=1)  # (B, C, H, W)
    g = F.one_hot(target, C).permute(0, 3, 1, 2).float()  # (B, C, H, W)
    inter = (p * g).flatten(2).sum(-1)  # (B, C)
    union = (p + g - p * g).flatten(2).sum(-1)  # (B, C)
    loss = 1.0 - (inter + eps) / (union + eps)  # (B, C)
    used = torch.arange(C, device=logits.device).view(1, -1) <= num_objects.view(-1, 1)
    return ((loss * used).sum(1) / used.sum(1)).mean()
