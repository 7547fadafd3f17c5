"""Identification: object ids -> one-hot masks -> a 256-d identity embedding per patch.

AOT (Yang et al., NeurIPS 2021) gives each object an identity vector and propagates the
identities of all objects together, in one pass. The ID bank is a strided conv from
the (max_obj_num + 1)-channel one-hot mask to 256 channels; DeAOT adds a LayerNorm
(``id_norm``). Both modules live on the model under their official names
(``patch_wise_id_bank``, ``id_norm``); this file holds the functions that use them.

Book: ch08, section "Shapes through the network".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def one_hot_mask(mask: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, 1, H, W) ids -> (B, num_classes, H, W) float one-hot (channel 0 = background).

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    ids = torch.arange(num_classes, device=mask.device).view(1, -1, 1, 1)
    return (mask == ids).to(torch.float32)  # (B, num_classes, H, W)


def id_embedding(
    bank: nn.Conv2d, norm: nn.LayerNorm, mask: torch.Tensor, num_objects: int
) -> torch.Tensor:
    """Identity embedding of an id mask as tokens (h*w, B, 256).

    Channels above ``num_objects`` of the one-hot mask are all zero, so only the first
    ``num_objects + 1`` input channels of ``patch_wise_id_bank`` are convolved: the same
    result as the official 11-channel conv, with less work when there are few objects.

    Args:
        bank: ``patch_wise_id_bank`` (Conv2d from max_obj_num + 1 channels to 256).
        norm: ``id_norm`` (LayerNorm over the 256 channels).
        mask: (B, 1, H, W) long tensor of ids in [0, num_objects], at the input size.
        num_objects: objects in this group (at most max_obj_num).

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    k = num_objects + 1
    one_hot = one_hot_mask(mask, k).to(bank.weight.dtype)  # (B, k, H, W)
    emb = F.conv2d(one_hot, bank.weight[:, :k], bank.bias, bank.stride, bank.padding)
    B, C, h, w = emb.shape  # (B, 256, h, w)
    tokens = emb.view(B, C, h * w).permute(2, 0, 1)  # (h*w, B, 256)
    return norm(tokens)
