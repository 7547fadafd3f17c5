"""One frame step of DeAOT over the object groups, with soft aggregation.

The engine holds one ``MemoryBank`` per group of at most 10 objects and makes the
model's few calls per frame (official ``DeAOTInferEngine`` over ``DeAOTEngine``s):

1. ``add_reference(frame, mask, num_objects)``: ``encode_image`` once, then per group
   ``encode_memory`` (the frame attends to itself with its own ID values); the entry
   joins long-term memory as a reference frame and becomes the short-term memory. It is
   called for the first frame and again for every frame where new objects join
   (YouTube-VOS); groups are added when the objects outgrow the existing ones.
2. ``propagate(frame)``: ``encode_image`` once, then per group ``match_memory`` and
   ``decode``; the groups' logits are upsampled and merged by soft aggregation.
3. ``update_memory(mask)``: per group ``encode_memory`` of the matched frame with its
   mask; it replaces the short-term memory, and joins long-term memory every
   ``long_term_gap`` frames.

Slots are the contiguous ids 1..n of ``objects.ObjectManager`` (the engine never sees
the user's ids). One frame counter serves all groups: a group opened mid-video (an 11th
object joining) adds long-term frames on the same schedule as the others, where the
official per-group engines would restart their own counter at 0 for it. Official code: yoxu515/aot-benchmark ``networks/engines/``.

Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

import torch

from mvk_tutorial.vos.deaot.gpm import LayerMemory
from mvk_tutorial.vos.deaot.model import DeAOT
from mvk_tutorial.vos.inference.memory import MemoryBank
from mvk_tutorial.vos.inference.transforms import upsample_logits


def soft_aggregation(logits: list[torch.Tensor]) -> torch.Tensor:
    """Merge groups' logits (B, 1 + n_g, H, W) into (B, 1 + sum n_g, H, W).

    bg = prod_g p_g(bg); fg = cat_g p_g(fg); clamp to [1e-5, 1 - 1e-5]; logit.
    Book: ch08, section "The engine: memory over time".
    """
    if len(logits) == 1:
        return logits[0]
    probs = [torch.softmax(x.float(), dim=1) for x in logits]  # fp32 also under AMP
    bg = torch.stack([p[:, 0] for p in probs], dim=1).prod(dim=1, keepdim=True)
    merged = torch.cat([bg] + [p[:, 1:] for p in probs], dim=1).clamp(1e-5, 1 - 1e-5)
    return torch.logit(merged)


def _check_frame(frame: torch.Tensor, align_corners: bool) -> None:
    if frame.dim() != 4 or frame.shape[:2] != (1, 3):
        raise ValueError(
            f"frame: expected a (1, 3, H, W) tensor, got {tuple(frame.shape)}"
        )
    H, W = frame.shape[-2:]
    off = 1 if align_corners else 0
    if (H - off) % 16 or (W - off) % 16:
        form = "16k+1" if align_corners else "16k"
        raise ValueError(f"frame: sides must be of the form {form}, got {H}x{W}")


class DeAOTEngine:
    """Semi-supervised VOS with a DeAOT model (one video at a time, batch size 1).

    Args:
        model: a ``DeAOT`` network (weights loaded).
        long_term_gap: add a frame to long-term memory every ``gap`` frames; default the
            config's ``long_term_gap`` (5 for the L variants, 9999 otherwise).
        max_long_term: at most this many frames in long-term memory (reference frames
            included, never dropped); None = unbounded, as the official engine.

    Book: ch08, section "The engine: memory over time".
    """

    def __init__(
        self,
        model: DeAOT,
        long_term_gap: int | None = None,
        max_long_term: int | None = None,
    ):
        self.model = model.eval()
        self.max_obj_num = model.cfg.max_obj_num
        self.long_term_gap = long_term_gap or model.cfg.long_term_gap
        if max_long_term is not None and max_long_term < 1:
            raise ValueError(f"max_long_term: expected >= 1, got {max_long_term}")
        self.max_long_term = max_long_term
        self.groups: list[MemoryBank] = []
        self.frame_step = self.last_mem_step = 0
        self.input_size: tuple[int, int] | None = None
        self.num_objects = 0
        self._feats = None  # (frame, its encoder features) of the last propagated frame

    # ------------------------------------------------------------------ public API

    @torch.inference_mode()
    def add_reference(
        self, frame: torch.Tensor, mask: torch.Tensor, num_objects: int
    ) -> None:
        """Add a reference frame: ``frame`` (1, 3, H, W) normalised, ``mask``
        (1, 1, H, W) slots 1..num_objects. The first call starts a video; a later call
        (objects joining at this frame, or a corrected mask) keeps the memory and adds
        the frame as a reference; if ``frame`` is the frame just propagated, its
        encoder features are reused."""
        _check_frame(frame, self.model.cfg.align_corners)
        if mask.shape != (1, 1, *frame.shape[-2:]):
            raise ValueError(
                f"mask: expected shape (1, 1, {frame.shape[-2]}, "
                f"{frame.shape[-1]}), got {tuple(mask.shape)}"
            )
        if num_objects < 1 or int(mask.max()) > num_objects or int(mask.min()) < 0:
            raise ValueError(
                f"mask: ids must lie in [0, num_objects={num_objects}], "
                f"found [{int(mask.min())}, {int(mask.max())}]"
            )
        first = not self.groups
        if not first and tuple(frame.shape[-2:]) != self.input_size:
            raise ValueError(
                f"frame: expected size {self.input_size}, got {tuple(frame.shape[-2:])}"
            )
        if not first and num_objects < self.num_objects:
            raise ValueError(
                f"num_objects: objects cannot leave "
                f"({num_objects} < {self.num_objects})"
            )
        if first:
            self.input_size = tuple(frame.shape[-2:])
            self.frame_step = 0
        self.num_objects = num_objects
        self._resize_groups(num_objects)
        reuse = not first and self._feats is not None and frame is self._feats[0]
        feats = self._feats[1] if reuse else self.model.encode_image(frame)
        for g in self.groups:
            local = self._group_mask(g, mask.long())
            g.add_reference(self.model.encode_memory(feats, local, g.num_objects))
            g.current = None
        self.last_mem_step = self.frame_step
        self._feats = None

    @torch.inference_mode()
    def propagate(
        self, frame: torch.Tensor, output_size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        """Segment the next frame: logits (1, num_objects + 1, H, W) at the input size,
        or at ``output_size`` (the official evaluator upsamples the stride-4 logits
        straight to the original video size)."""
        if not self.groups:
            raise RuntimeError("propagate: call add_reference first")
        _check_frame(frame, self.model.cfg.align_corners)
        if tuple(frame.shape[-2:]) != self.input_size:
            raise ValueError(
                f"frame: expected size {self.input_size}, got {tuple(frame.shape[-2:])}"
            )
        self.frame_step += 1
        feats = self.model.encode_image(frame)
        self._feats = (frame, feats)
        logits = []
        for g in self.groups:
            long_term, short_term = g.read()
            tokens, g.current = self.model.match_memory(feats, long_term, short_term)
            x = self.model.decode(tokens, feats, g.num_objects + 1)  # (1, 1+n, h4, w4)
            size = output_size or self.input_size
            logits.append(upsample_logits(x, size, self.model.cfg.align_corners))
        return soft_aggregation(logits)

    @torch.inference_mode()
    def update_memory(self, mask: torch.Tensor) -> None:
        """Store the last propagated frame with its mask (1, 1, H, W) of slots."""
        if not self.groups or self.groups[0].current is None:
            raise RuntimeError("update_memory: call propagate first")
        if mask.shape != (1, 1, *self.input_size):
            raise ValueError(
                f"mask: expected shape (1, 1, {self.input_size[0]}, "
                f"{self.input_size[1]}), got {tuple(mask.shape)}"
            )
        to_long = self.frame_step - self.last_mem_step >= self.long_term_gap
        for g in self.groups:
            local = self._group_mask(g, mask.long())
            g.add(self.model.encode_memory(g.current, local, g.num_objects), to_long)
            g.current = None
        if to_long:
            self.last_mem_step = self.frame_step
        self._feats = None

    # ------------------------------------------------------------------ helpers

    def _resize_groups(self, num_objects: int) -> None:
        """Grow the last group and add groups so that they hold ``num_objects``."""
        n = self.max_obj_num
        for s in range(1, num_objects + 1, n):
            size = min(n, num_objects - s + 1)
            k = (s - 1) // n
            if k < len(self.groups):
                self.groups[k].num_objects = size
            else:
                self.groups.append(MemoryBank(s, size, self.max_long_term))

    def _group_mask(self, g: MemoryBank, mask: torch.Tensor) -> torch.Tensor:
        return mask if len(self.groups) == 1 else g.local_mask(mask)  # one group: as is

    def memory_bytes(self) -> int:
        """Bytes held by the memory banks (long-term + short-term tensors)."""
        seen, total = set(), 0
        for g in self.groups:
            for m in list(g.long_term) + list(g.short_term):
                for t in (m.K, m.V):
                    if t is not None and t.data_ptr() not in seen:
                        seen.add(t.data_ptr())
                        total += t.numel() * t.element_size()
        return total


__all__ = ["DeAOTEngine", "LayerMemory", "soft_aggregation"]
