"""Preprocessing of the official DeAOT evaluation: input size, resize, normalise, labels.

The official pipeline (aot-benchmark ``dataloaders/video_transforms.py``,
``MultiRestrictSize`` then ``MultiToTensor``; ``networks/managers/evaluator.py``):

1. Input size: scale the frame so that its short side is at most ``max_short_edge``
   (off for DAVIS), then so that the long side *of that result* is at most
   ``max_long_edge`` (1040 = 1.3 x 800 for DAVIS); multiply by the test scale, truncate
   each side to an integer, and snap any side that is not already of the form
   ``16k + 1`` (``16k`` without align_corners, i.e. Swin) to the nearest such size,
   rounding halves to even (numpy's ``around``).
2. Resize the RGB frame with bicubic interpolation (OpenCV ``INTER_CUBIC``).
3. Normalise: ``/255``, minus the ImageNet mean, divided by the ImageNet std.
4. Labels are not resized by the transform: a reference mask, or a predicted mask fed
   back to memory, is resized to the input size with nearest-neighbour
   ``F.interpolate``.
5. The stride-4 logits are upsampled straight to the original frame size, bilinearly,
   with the model's ``align_corners``; soft-max and arg-max happen at that size.

Each of these choices is pinned by ``tests/vos_inference/test_transforms.py`` against
values computed independently from the rule above.

Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def official_input_size(
    h: int,
    w: int,
    max_long_edge: int | None = 1040,
    max_short_edge: int | None = None,
    align_corners: bool = True,
    stride: int = 16,
    scale: float = 1.0,
) -> tuple[int, int]:
    """Network input size of an ``h x w`` frame, as the official ``MultiRestrictSize``.

    E.g. 480x854 -> 481x849 (align_corners, MobileNet/ResNet) or 480x848 (Swin);
    1837x2110 -> 897x1041 (the long side becomes 1040, the short one 905.4, truncated to
    905 and snapped to 897, not 913); with ``max_short_edge=624``, 1080x1920 -> 577x1041.

    Book: ch08, section "The engine: memory over time".
    """
    if h < 1 or w < 1:
        raise ValueError(f"official_input_size: expected a positive size, got {h}x{w}")
    new_h, new_w = float(h), float(w)
    if max_short_edge is not None and min(new_h, new_w) > max_short_edge:
        sc = max_short_edge / min(new_h, new_w)
        new_h, new_w = sc * new_h, sc * new_w
    # the long-edge limit applies to the size after the short-edge limit
    if max_long_edge is not None and max(new_h, new_w) > max_long_edge:
        sc = max_long_edge / max(new_h, new_w)
        new_h, new_w = sc * new_h, sc * new_w
    off = 1 if align_corners else 0

    def snap(x: float) -> int:
        n = int(x * scale)  # truncation first, as the official int(new_h * scale)
        if (n - off) % stride == 0:
            return n
        return int(np.around((n - off) / stride) * stride + off)  # halves to even

    return snap(new_h), snap(new_w)


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (h, w, 3) float32, bicubic (OpenCV ``INTER_CUBIC``).

    Book: ch08, section "The engine: memory over time".
    """
    img = frame.astype(np.float32)  # the official reader returns float32 frames
    if img.shape[:2] != tuple(size):
        img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    return img


def normalise(img: np.ndarray, device=None) -> torch.Tensor:
    """(h, w, 3) float RGB in [0, 255] -> (1, 3, h, w) float32: /255, -mean, /std.

    Book: ch08, section "The engine: memory over time".
    """
    x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    x = x.permute(2, 0, 1).div_(255.0)  # (3, h, w)
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0).to(device)  # (1, 3, h, w)


def preprocess(
    frame: np.ndarray, size: tuple[int, int], device=None, flip: bool = False
) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, h, w) network input: bicubic resize, normalise;
    ``flip`` mirrors the resized frame (the official flip augmentation).

    Book: ch08, section "The engine: memory over time".
    """
    x = normalise(resize_frame(frame, size), device)
    return torch.flip(x, dims=[-1]) if flip else x


def resize_label(label: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(1, 1, H, W) ids -> (1, 1, h, w) long, nearest neighbour (``F.interpolate``).

    Book: ch08, section "The engine: memory over time".
    """
    if tuple(label.shape[-2:]) == tuple(size):
        return label.long()
    return F.interpolate(label.float(), size=tuple(size), mode="nearest").long()


def upsample_logits(
    logits: torch.Tensor, size: tuple[int, int], align_corners: bool
) -> torch.Tensor:
    """(B, C, h4, w4) stride-4 logits -> (B, C, H, W), bilinear (official decode).

    Book: ch08, section "The engine: memory over time".
    """
    return F.interpolate(
        logits, size=tuple(size), mode="bilinear", align_corners=align_corners
    )


def label_from_probs(probs: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) scores -> (B, 1, H, W) long: the index of the largest, the first
    one on ties (the same as ``argmax(dim=1)``).

    ``max(dim=1)`` returns the same indices as ``argmax(dim=1)`` (both the first
    maximum) but, on a CPU with a handful of channels, reduces along the channel stride
    several times faster. Book: ch08, section "The engine: memory over time".
    """
    return probs.max(dim=1, keepdim=True).indices
