"""DeAOT inference engine: reference frame, long/short-term memory, object groups.

The model (``model.py``) is stateless; the engine owns the memory, as Cutie's
``InferenceCore`` does. Protocol of the official ``DeAOTEngine``/``DeAOTInferEngine``:

1. ``add_reference(frame, mask, num_objects)``: one GPM pass in which the frame attends
   to itself with its own ID values; it becomes long-term and short-term memory.
2. ``propagate(frame)``: match the frame against memory, decode logits at input size.
3. ``update_memory(mask)``: attach the (predicted) mask's ID values to the frame's keys
   and values; it becomes the short-term memory, and joins long-term memory every
   ``long_term_gap`` frames (newest first).

More than ``max_obj_num`` (10) objects: groups of 10 share the encoder features; their
probabilities are merged by soft aggregation (background = product of the groups'
background probabilities). ``max_long_term`` caps long-term memory (in frames; the
reference frame is always kept) so that long videos fit in memory.

Official code: yoxu515/aot-benchmark ``networks/engines/deaot_engine.py``.
Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from mvk_tutorial.vos.deaot.gpm import LayerMemory
from mvk_tutorial.vos.deaot.model import DeAOT


@dataclass
class _Group:
    """Memory of one group of at most 10 objects (ids first_id .. first_id + n - 1)."""

    first_id: int
    num_objects: int
    long_term: list[LayerMemory] = field(default_factory=list)
    short_term: list[LayerMemory] = field(default_factory=list)
    current: list[LayerMemory] | None = None
    long_term_frames: int = 1

    def local_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """Global ids -> this group's ids 1..n (others -> 0)."""
        if self.first_id == 1:
            return torch.where(mask <= self.num_objects, mask, torch.zeros_like(mask))
        inside = (mask >= self.first_id) & (mask < self.first_id + self.num_objects)
        return torch.where(inside, mask - self.first_id + 1, torch.zeros_like(mask))


def soft_aggregation(logits: list[torch.Tensor]) -> torch.Tensor:
    """Merge groups' logits (B, 1 + n_g, H, W) into (B, 1 + sum n_g, H, W).

    bg = prod_g p_g(bg); fg = cat_g p_g(fg); clamp to [1e-5, 1 - 1e-5]; logit.
    Book: ch08 "Memory-based VOS and DeAOT".
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
        max_long_term: at most this many frames in long-term memory (reference included);
            None = unbounded, as the official engine.

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
        self.groups: list[_Group] = []
        self.frame_step = self.last_mem_step = 0
        self.input_size: tuple[int, int] | None = None
        self.num_objects = 0

    @torch.inference_mode()
    def add_reference(
        self, frame: torch.Tensor, mask: torch.Tensor, num_objects: int
    ) -> None:
        """Start a video: ``frame`` (1, 3, H, W) normalised, ``mask`` (1, 1, H, W) ids."""
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
        self.input_size, self.num_objects = tuple(frame.shape[-2:]), num_objects
        self.frame_step = self.last_mem_step = 0
        n = self.max_obj_num
        self.groups = [
            _Group(s, min(n, num_objects - s + 1)) for s in range(1, num_objects + 1, n)
        ]
        feats = self.model.encode_image(frame)
        for g in self.groups:
            id_emb = self.model.id_embedding(self._group_mask(g, mask), g.num_objects)
            _, frames = self.model.propagate(feats, None, None, id_emb)
            g.long_term = g.short_term = self.model.fuse_memory(frames, id_emb)
            g.long_term_frames, g.current = 1, None

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
        logits = []
        for g in self.groups:
            tokens, g.current = self.model.propagate(feats, g.long_term, g.short_term)
            x = self.model.decode(
                tokens, feats, g.num_objects + 1
            )  # (1, 1 + n, h4, w4)
            logits.append(
                F.interpolate(
                    x,
                    size=output_size or self.input_size,
                    mode="bilinear",
                    align_corners=self.model.cfg.align_corners,
                )
            )
        return soft_aggregation(logits)

    @torch.inference_mode()
    def update_memory(self, mask: torch.Tensor) -> None:
        """Store the last propagated frame with its mask (1, 1, H, W) of ids."""
        if not self.groups or self.groups[0].current is None:
            raise RuntimeError("update_memory: call propagate first")
        if mask.shape != (1, 1, *self.input_size):
            raise ValueError(
                f"mask: expected shape (1, 1, {self.input_size[0]}, "
                f"{self.input_size[1]}), got {tuple(mask.shape)}"
            )
        to_long = self.frame_step - self.last_mem_step >= self.long_term_gap
        for g in self.groups:
            id_emb = self.model.id_embedding(
                self._group_mask(g, mask.long()), g.num_objects
            )
            g.short_term = self.model.fuse_memory(g.current, id_emb)
            g.current = None
            if to_long:
                self._add_long_term(g, g.short_term)
        if to_long:
            self.last_mem_step = self.frame_step

    def _group_mask(self, g: _Group, mask: torch.Tensor) -> torch.Tensor:
        return mask if len(self.groups) == 1 else g.local_mask(mask)  # one group: as is

    def _add_long_term(self, g: _Group, new: list[LayerMemory]) -> None:
        """Prepend ``new`` to long-term memory; drop the oldest non-reference frame when
        ``max_long_term`` is exceeded (the reference frame is the last block)."""
        N = new[0].K.shape[0]
        cap = self.max_long_term
        if cap == 1:  # reference frame only
            return
        over = cap is not None and g.long_term_frames + 1 > cap
        out = []
        for m_new, m_old in zip(new, g.long_term):
            K, V = m_old.K, m_old.V
            if over:  # (frames*N, B, C): keep the newest cap-2 old frames + reference
                K = torch.cat([K[: (cap - 2) * N], K[-N:]])
                V = torch.cat([V[: (cap - 2) * N], V[-N:]])
            out.append(LayerMemory(torch.cat([m_new.K, K]), torch.cat([m_new.V, V])))
        g.long_term = out
        g.long_term_frames = (
            min(g.long_term_frames + 1, cap) if cap else g.long_term_frames + 1
        )
