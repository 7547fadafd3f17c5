"""Where a trained DeAOT looks: the long-term attention of one query over the memory.

Long-term propagation (DeAOT, section 3) matches every token of the current frame with
the tokens of the memory frames: "the attention map is computed on visual embeddings
only", so the weights of one query are ``softmax(q K^T / sqrt(d_att))`` over the memory
keys of a GPM layer, the keys being the memory frame's own query projections (the
model keeps Q and K of a frame as one tensor, ``LayerMemory.K``). This module computes
those weights for a reference frame and a later frame with the model's own calls
(``encode_image``, ``encode_memory``, ``match_memory``), so that the map is exactly the
one the network uses in its first long-term step.

Book: ch08, section "Where the trained model looks".
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mvk_tutorial.vos.inference.transforms import official_input_size, preprocess, resize_label


@torch.inference_mode()
def long_term_attention(
    model,
    reference: np.ndarray,
    reference_mask: np.ndarray,
    frame: np.ndarray,
    layer: int = 0,
    max_long_edge: int | None = 1040,
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Long-term attention weights of every token of ``frame`` over the tokens of
    ``reference`` (the only long-term memory frame), in GPM layer ``layer``.

    Args:
        model: a DeAOT network (eval mode).
        reference, frame: (H, W, 3) uint8 RGB frames of one video.
        reference_mask: (H, W) ids 0..K of the reference frame.
        layer: which GPM layer's keys to use (0 = first).
        max_long_edge: input size rule of the official evaluation.

    Returns:
        (weights (h*w, h*w): row = query token of ``frame``, column = memory token, rows
        sum to 1; (h, w) the token grid at stride 16).

    Book: ch08, section "Where the trained model looks".
    """
    if reference.shape != frame.shape or reference.ndim != 3:
        raise ValueError(
            f"reference, frame: expected two (H, W, 3) frames of one size, got "
            f"{reference.shape} and {frame.shape}"
        )
    if reference_mask.shape != reference.shape[:2]:
        raise ValueError(
            f"reference_mask: expected shape {reference.shape[:2]}, got {reference_mask.shape}"
        )
    n_layers = len(model.LSTT.layers)
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer: expected 0..{n_layers - 1}, got {layer}")
    size = official_input_size(*reference.shape[:2], max_long_edge=max_long_edge,
                               align_corners=model.cfg.align_corners)
    ref = preprocess(reference, size)  # (1, 3, h_in, w_in)
    cur = preprocess(frame, size)
    mask = torch.from_numpy(reference_mask.astype(np.int64))[None, None]  # (1, 1, H, W)
    mask = resize_label(mask, size)
    num_objects = max(1, int(mask.max()))
    memory = model.encode_memory(model.encode_image(ref), mask, num_objects)
    feats = model.encode_image(cur)
    _, current = model.match_memory(feats, memory, memory)
    h, w = feats[-1].shape[-2:]
    q = current[layer].K[:, 0].float()  # (h*w, d_att): this frame's queries
    k = memory[layer].K[:, 0].float()  # (h*w, d_att): the reference frame's keys
    logits = q @ k.T / math.sqrt(q.shape[-1])  # (h*w, h*w)
    return torch.softmax(logits, dim=-1), (h, w)
