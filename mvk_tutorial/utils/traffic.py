"""Bytes moved by a computation, counted operator by operator.

``TrafficCounter`` is a dispatch mode: every ATen operator run inside it adds the bytes
of its tensor inputs and outputs (each counted once per operator; views, which move no
data, and bare allocations are skipped). On a machine whose caches held nothing between
operators this is the memory traffic; real caches keep some of it, so it is an upper
bound, and with the FLOP count it places a computation on the roofline: the floor is
the larger of FLOPs / peak FLOP/s and bytes / peak bandwidth.

Book: ch00, section "Measured, not claimed".
"""

from __future__ import annotations

from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

_NO_TRAFFIC = {"empty", "empty_strided", "empty_like", "resize_", "detach", "lift_fresh"}


def _bytes(values) -> int:
    seen, total = set(), 0
    for t in tree_flatten(values)[0]:
        if isinstance(t, torch.Tensor) and t.numel():
            key = (t.data_ptr(), t.numel(), tuple(t.stride()))
            if key not in seen:
                seen.add(key)
                total += t.numel() * t.element_size()
    return total


class TrafficCounter(TorchDispatchMode):
    """``with TrafficCounter() as tc: f()``; then ``tc.bytes`` and ``tc.by_op``.

    Book: ch00, section "Measured, not claimed".
    """

    def __init__(self):
        super().__init__()
        self.bytes = 0
        self.by_op: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if getattr(func, "is_view", False) or name in _NO_TRAFFIC:
            return out
        n = _bytes((args, kwargs or {})) + _bytes(out)
        self.bytes += n
        self.by_op[name] += n
        return out
