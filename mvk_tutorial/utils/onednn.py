"""PyTorch's other float32 matrix product on a CPU: oneDNN's inner product.

PyTorch multiplies float32 matrices on a CPU with the BLAS it was built with (Intel's
MKL in the official wheels: ``torch.matmul``, ``torch.bmm``, ``F.linear``) or, where its
compiler asks for it, with oneDNN's inner product
(``torch.ops.mkldnn._linear_pointwise``). On Intel CPUs the two are close; on AMD CPUs
MKL runs its AVX2 kernels and oneDNN can be twice as fast. The helpers here call oneDNN
where that is safe (``cpu_inference``: float32 CPU tensors, no gradient, no autocast)
and the ordinary ops everywhere else. The same numbers up to float summation order.

Book: ch08, section "Where the remaining time goes".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
