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

ACTIVATIONS = (None, "relu", "relu6")


def _pair(v: int | tuple[int, ...]) -> list[int]:
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def fused_ok(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """True where the oneDNN fused op applies: float32, CPU, 4-D input, no autograd.

    Book: ch08, section "What changes on a GPU and with the real data".
    """
    return x.dim() == 4 and cpu_inference(x, weight)


def cpu_inference(*tensors: torch.Tensor) -> bool:
    """True when every tensor is a float32 CPU tensor, no gradient is needed, CPU
    autocast is off and PyTorch has oneDNN: where oneDNN's kernels may be called.

    Book: ch08, section "What changes on a GPU and with the real data".
    """
    return (
        all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)
        and not torch.is_autocast_enabled("cpu")
        and not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))
        and torch.backends.mkldnn.is_available()
    )


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


def matmul_nt(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b.transpose(-1, -2)``: (B, M, d) x (B, N, d) -> (B, M, N), or 2-D.

    The attention logits Q K^T, and (with ``b`` = V^T) the attention output. oneDNN's
    inner product (``torch.ops.mkldnn._linear_pointwise``, ``b`` as its "weight") is
    1.5-1.7x faster than the BLAS behind ``torch.bmm`` on an Intel Xeon with a short
    inner dimension (d = 128), and about 2.2x faster for every DeAOT shape on an AMD
    EPYC, where that BLAS (MKL) runs its AVX2 kernels. Used where ``cpu_inference``
    holds; elsewhere ``torch.matmul``. Same numbers up to float summation order.

    Book: ch08, section "What changes on a GPU and with the real data".
    """
    if a.dim() != b.dim() or a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"matmul_nt: shapes {tuple(a.shape)} and {tuple(b.shape)} do not match"
        )
    if not (cpu_inference(a, b) and a.dim() in (2, 3)):
        return torch.matmul(a, b.transpose(-1, -2))
    # row-major operands: with a strided "weight" oneDNN falls back to a slow kernel
    def nt(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        linear = torch.ops.mkldnn._linear_pointwise
        return linear(x.contiguous(), y.contiguous(), None, "none", [], "")

    if a.dim() == 2:
        return nt(a, b)
    outs = [nt(a[i], b[i]) for i in range(a.shape[0])]
    return outs[0].unsqueeze(0) if len(outs) == 1 else torch.stack(outs)  # no copy of 1


def linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """``F.linear(x, weight, bias)``: (..., K) x (N, K) -> (..., N), by oneDNN's inner
    product where ``cpu_inference`` holds (see ``matmul_nt``), else ``F.linear``.

    Same numbers up to float summation order. Book: ch08, section "What changes on a
    GPU and with the real data".
    """
    tensors = (x, weight) if bias is None else (x, weight, bias)
    if not cpu_inference(*tensors) or x.dim() < 1 or x.numel() == 0:
        return F.linear(x, weight, bias)
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(
            f"linear: input {tuple(x.shape)} and weight {tuple(weight.shape)} do not match"
        )
    x2 = x.reshape(-1, x.shape[-1]).contiguous()  # (M, K)
    y = torch.ops.mkldnn._linear_pointwise(x2, weight.contiguous(), bias, "none", [], "")
    return y.view(*x.shape[:-1], weight.shape[0])  # (..., N)


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
