"""Convolutions with their bias, activation and residual sum in one pass (CPU inference).

At inference a conv followed by a frozen BN, a ReLU6 and maybe a residual sum reads and
writes the feature map up to four times; oneDNN (the CPU library behind PyTorch's
convolutions) can apply the bias, the activation and the sum while each output tile is
still in registers ("post-ops"). PyTorch exposes that as
``torch.ops.mkldnn._convolution_pointwise`` (the op its compiler emits for conv + ReLU).
With one thread PyTorch also routes 1x1 and depthwise convolutions of a single image to
slower generic kernels; calling oneDNN directly avoids that too.

``conv2d`` uses the fused op only where it gives the same numbers as the plain ops and
needs no gradient: float32 CPU tensors, 4-D, autograd and CPU autocast off (inference, the benchmarks);
anything else (training, CUDA, AMP, a build without oneDNN) takes ``F.conv2d`` followed
by the same activation and sum.

Book: ch08, section "What changes on a GPU and with the real data".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mvk_tutorial.utils.onednn import cpu_inference, linear, matmul_nt

__all__ = [
    "ACTIVATIONS",
    "Linear",
    "conv2d",
    "cpu_inference",
    "fused_ok",
    "linear",
    "matmul_nt",
]

ACTIVATIONS = (None, "relu", "relu6")


def _pair(v: int | tuple[int, ...]) -> list[int]:
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def fused_ok(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """True where the oneDNN fused op applies: float32, CPU, 4-D input, no autograd.

    Book: ch08, section "What changes on a GPU and with the real data".
    """
    return x.dim() == 4 and cpu_inference(x, weight)



def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    act: str | None = None,
    residual: torch.Tensor | None = None,
) -> torch.Tensor:
    """``act(F.conv2d(x, weight, bias, ...) + residual)`` in one pass where possible.

    Args:
        x: (B, C, H, W) input (channels-last memory keeps the output channels-last).
        weight, bias, stride, padding, dilation, groups: as ``F.conv2d``.
        act: None, ``"relu"`` or ``"relu6"``, applied after the residual sum.
        residual: optional tensor of the output's shape added before ``act``.

    Book: ch08, section "What changes on a GPU and with the real data".
    """
    if act not in ACTIVATIONS:
        raise ValueError(f"act: expected one of {ACTIVATIONS}, got {act!r}")
    if fused_ok(x, weight) and (residual is None or residual.dtype == x.dtype):
        if x.is_contiguous(memory_format=torch.channels_last):
            weight = weight.contiguous(memory_format=torch.channels_last)
        unary = {None: "none", "relu": "relu", "relu6": "hardtanh"}[act]
        scalars = [0.0, 6.0] if act == "relu6" else []
        args = (_pair(padding), _pair(stride), _pair(dilation), groups)
        if residual is None:
            return torch.ops.mkldnn._convolution_pointwise(
                x, weight, bias, *args, unary, scalars, ""
            )
        other = residual.contiguous(memory_format=_format(x))
        # oneDNN fuses a ReLU after the sum but not a ReLU6: that one runs in place
        post = "relu" if act == "relu" else None
        y = torch.ops.mkldnn._convolution_pointwise.binary(
            x, other, weight, bias, *args, "add", 1.0, post, [], None if post is None else ""
        )
        return y.clamp_(0.0, 6.0) if act == "relu6" else y
    y = F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    if residual is not None:
        y = y + residual
    if act == "relu":
        y = F.relu(y)
    elif act == "relu6":
        y = F.relu6(y)
    return y


def _format(x: torch.Tensor) -> torch.memory_format:
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format






class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and keys) whose CPU inference runs through
    :func:`linear`; ``onednn = False`` gives ``F.linear`` (the official path, flipped
    per instance by ``switches.py``).

    Book: ch08, section "What changes on a GPU and with the real data".
    """

    onednn = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.onednn:
            return linear(x, self.weight, self.bias)
        return F.linear(x, self.weight, self.bias)
