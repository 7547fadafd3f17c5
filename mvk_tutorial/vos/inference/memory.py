"""The memory bank of one object group: reference frames, long-term and short-term memory.

What DeAOT reads at every frame, per GPM layer (official ``AOTEngine``):

- long-term memory: the reference frames (the first frame, and every frame where new
  objects joined) and every ``long_term_gap``-th predicted frame, concatenated along the
  token axis. The order is the official one: predicted frames newest first, then the
  reference frames in the order they were added (``update_long_term_memory``: a predicted
  frame is prepended, a reference frame appended);
- short-term memory: the last frame only (``TEST_SHORT_TERM_MEM_SKIP = 1``), read by the
  15x15 local attention.

``max_long_term`` caps long-term memory (in frames) for long videos: the oldest predicted
frame is dropped first, reference frames are always kept (the official
``TEST_LONG_TERM_MEM_MAX`` works the same way). Without the cap, memory grows by one
frame every ``long_term_gap`` frames, and so does the cost of the long-term attention.

Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

import torch

from mvk_tutorial.vos.deaot.gpm import LayerMemory


class MemoryBank:
    """Memory of one group of at most ``max_obj_num`` objects.

    Args:
        first_id: slot of the group's first object (1, 11, 21, ...).
        num_objects: objects of the group so far.
        max_long_term: at most this many frames in long-term memory (reference frames
            included and never dropped); None = unbounded, as the official default.

    Book: ch08, section "The engine: memory over time".
    """

    def __init__(
        self, first_id: int, num_objects: int, max_long_term: int | None = None
    ):
        if max_long_term is not None and max_long_term < 1:
            raise ValueError(f"max_long_term: expected >= 1, got {max_long_term}")
        self.first_id, self.num_objects = first_id, num_objects
        self.max_long_term = max_long_term
        self.long_term: list[LayerMemory] = []  # per layer, (frames*N, B, C) tokens
        self.is_reference: list[bool] = []  # per long-term frame, in token order
        self.short_term: list[LayerMemory] = []  # per layer, last frame (N, B, C)
        self.current: list[LayerMemory] | None = None  # matched, mask not yet known

    @property
    def long_term_frames(self) -> int:
        """Frames in long-term memory."""
        return len(self.is_reference)

    def local_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """Slots -> this group's channels 1..n (other groups' objects -> 0)."""
        inside = (mask >= self.first_id) & (mask < self.first_id + self.num_objects)
        return torch.where(inside, mask - self.first_id + 1, torch.zeros_like(mask))

    def add_reference(self, memory: list[LayerMemory]) -> None:
        """A reference frame: appended to long-term memory, and the short-term memory."""
        self._insert(memory, reference=True)
        self.short_term = memory

    def add(self, memory: list[LayerMemory], long_term: bool) -> None:
        """A predicted frame: the short-term memory; prepended to long-term memory when
        ``long_term`` (it is a ``long_term_gap``-th frame)."""
        self.short_term = memory
        if long_term:
            self._insert(memory, reference=False)

    def read(self) -> tuple[list[LayerMemory], list[LayerMemory]]:
        """(long-term, short-term) memory, one ``LayerMemory`` per GPM layer."""
        return self.long_term, self.short_term

    def _insert(self, memory: list[LayerMemory], reference: bool) -> None:
        if not self.long_term:
            self.long_term, self.is_reference = list(memory), [reference]
            return
        N = memory[0].K.shape[0]  # tokens per frame
        flags = self.is_reference
        keep = list(range(len(flags)))  # frame blocks kept
        cap = self.max_long_term
        while cap is not None and len(keep) + 1 > cap:
            old = [i for i in keep if not flags[i]]
            if not old:  # only reference frames left: they always stay
                break
            keep.remove(old[-1])  # the oldest predicted frame (blocks are newest first)
        # a predicted frame only enters if the reference frames leave it room
        insert = reference or cap is None or len(keep) + 1 <= cap
        out = []
        for m_new, m_old in zip(memory, self.long_term):
            K, V = m_old.K, m_old.V  # (frames*N, B, C)
            if len(keep) < len(flags):  # kept blocks only
                K = torch.cat([K[i * N : (i + 1) * N] for i in keep])
                V = torch.cat([V[i * N : (i + 1) * N] for i in keep])
            if insert and reference:  # appended after the older reference frames
                K, V = torch.cat([K, m_new.K]), torch.cat([V, m_new.V])
            elif insert:  # prepended: newest first
                K, V = torch.cat([m_new.K, K]), torch.cat([m_new.V, V])
            out.append(LayerMemory(K, V))
        kept = [flags[i] for i in keep]
        if insert:
            kept = kept + [True] if reference else [False] + kept
        self.long_term, self.is_reference = out, kept
