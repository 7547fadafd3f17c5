"""Checks for the exercises of ch03 (transformer variants).

* ``checks.window_partition(my_fn)``: ``my_fn(x, M)`` cuts x (B, H, W, C) into
  (B * nW, M, M, C) windows, batch-major then row-major over the window grid.
* ``checks.shift_mask(my_fn)``: ``my_fn(H, W, M, s)`` returns the (nW, M*M, M*M) additive
  mask of shifted windows: -100 between tokens of different regions, 0 otherwise.
* ``checks.bilinear_sample(my_fn)``: ``my_fn(img, y, x)`` samples img (B, C, H, W) at
  pixel coordinates y, x (B, P) bilinearly, zero outside; returns (B, C, P).

The references are in :mod:`mvk_tutorial.attention.swin` and
:mod:`mvk_tutorial.attention.deform_conv`; the notebook never imports them.
Book: ch03, section "Exercises".
"""

from __future__ import annotations

import torch

from mvk_tutorial.checks.core import case, check_function, seeded


def _guarded(name: str, fn, hint: str):
    """Turn an exception raised by the reader's function into a failed check with a hint."""
    if not callable(fn):
        raise AssertionError(f"{name}: expected a function, got {type(fn).__name__}\nHint: {hint}")

    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            raise
        except Exception as exc:  # the reader's code crashed on this case
            raise AssertionError(
                f"{name}: your function raised {type(exc).__name__}: {exc}\nHint: {hint}"
            ) from None

    return call


def window_partition(candidate) -> None:
    """Check ``candidate(x, M) -> (B * nW, M, M, C)``. Book: ch03, section "Exercises"."""
    from mvk_tutorial.attention.swin import window_partition as ref

    g = seeded(3)
    hint = (
        "view x as (B, H/M, M, W/M, M, C), move the two window-grid axes next to the "
        "batch axis (permute 0, 1, 3, 2, 4, 5), then reshape to (-1, M, M, C)"
    )
    cases = [
        case("one image 4x4, M = 2", torch.randn(1, 4, 4, 3, generator=g), 2),
        case("2 images 6x9 (H != W), M = 3", torch.randn(2, 6, 9, 5, generator=g), 3),
        case("3 images 8x4, M = 4", torch.randn(3, 8, 4, 2, generator=g), 4),
    ]
    check_function("window_partition", _guarded("window_partition", candidate, hint), ref,
                   cases, hint, atol=0, rtol=0)


def shift_mask(candidate) -> None:
    """Check ``candidate(H, W, M, s) -> (nW, M*M, M*M)``. Book: ch03, section "Exercises"."""
    from mvk_tutorial.attention.swin import shift_mask as ref

    hint = (
        "label the 3 x 3 regions with the slices [0, -M), [-M, -s), [-s, end) per axis, "
        "partition the label map into windows, and put -100 where two tokens' labels differ"
    )
    cases = [
        case("8x8 map, window 4, shift 2", 8, 8, 4, 2),
        case("6x9 map, window 3, shift 1", 6, 9, 3, 1),
        case("12x8 map, window 4, shift 1", 12, 8, 4, 1),
    ]

    def reference(H, W, M, s):
        return ref(H, W, M, s, dtype=torch.float32)

    def as_float(*args):
        out = _guarded("shift_mask", candidate, hint)(*args)
        return out.float() if isinstance(out, torch.Tensor) else out

    check_function("shift_mask", as_float, reference, cases, hint, atol=0, rtol=0)


def bilinear_sample(candidate) -> None:
    """Check ``candidate(img, y, x) -> (B, C, P)``. Book: ch03, section "Exercises"."""
    from mvk_tutorial.attention.deform_conv import bilinear_sample as ref

    g = seeded(5)
    hint = (
        "take the four neighbours (floor(y) + {0, 1}, floor(x) + {0, 1}); weight each by "
        "(1 - |y - yi|)(1 - |x - xi|); a neighbour outside the image contributes 0"
    )
    img = torch.randn(2, 3, 5, 7, generator=g, dtype=torch.float64)
    inside_y = torch.rand(2, 10, generator=g, dtype=torch.float64) * 4
    inside_x = torch.rand(2, 10, generator=g, dtype=torch.float64) * 6
    out_y = torch.rand(2, 12, generator=g, dtype=torch.float64) * 8 - 2
    out_x = torch.rand(2, 12, generator=g, dtype=torch.float64) * 10 - 2
    grid_y = torch.tensor([[0.0, 1.0, 4.0, 2.0]] * 2, dtype=torch.float64)
    grid_x = torch.tensor([[0.0, 3.0, 6.0, 6.0]] * 2, dtype=torch.float64)
    cases = [
        case("integer points: the pixel values themselves", img, grid_y, grid_x),
        case("points inside the image", img, inside_y, inside_x),
        case("points near and beyond the border (zeros outside)", img, out_y, out_x),
    ]
    check_function("bilinear_sample", _guarded("bilinear_sample", candidate, hint), ref,
                   cases, hint, atol=1e-10, rtol=0)
