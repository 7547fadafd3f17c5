"""Object manager: the user's object ids <-> the network's (group, channel) slots.

DeAOT identifies at most ``max_obj_num`` (10) objects per pass: object slot k (1-based,
in the order the objects joined) is channel ``(k - 1) % 10 + 1`` of group
``(k - 1) // 10``, and groups share the encoder features. The user's ids need not be
contiguous (YouTube-VOS uses ids such as 1 and 5) and objects may join at any frame:
the manager only ever appends slots, so the slots of the objects already tracked never
move. Cutie's ``ObjectManager`` plays the same role.

Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

import numpy as np
import torch

from mvk_tutorial.vos.io import VOID_ID


class ObjectManager:
    """User ids (1..254) <-> contiguous slots 1..n, grouped by ``max_obj_num``.

    Args:
        max_obj_num: objects per group (the model's ``max_obj_num``, 10).

    Book: ch08, section "The engine: memory over time".
    """

    def __init__(self, max_obj_num: int = 10):
        if max_obj_num < 1:
            raise ValueError(f"max_obj_num: expected >= 1, got {max_obj_num}")
        self.max_obj_num = max_obj_num
        self.ids: list[int] = []  # slot k - 1 -> user id
        self._slot = np.zeros(256, dtype=np.int64)  # user id -> slot (0 = background)

    @property
    def num_objects(self) -> int:
        """Objects tracked so far."""
        return len(self.ids)

    @property
    def num_groups(self) -> int:
        """Groups of at most ``max_obj_num`` objects (at least 1)."""
        return max(1, -(-self.num_objects // self.max_obj_num))

    def add(self, ids) -> list[int]:
        """Register new ids (sorted; known ones are skipped); returns the new ones."""
        new = []
        for i in sorted(int(i) for i in ids):
            if not 1 <= i < VOID_ID:
                raise ValueError(f"object id {i}: expected 1..{VOID_ID - 1}")
            if self._slot[i] == 0:
                self.ids.append(i)
                self._slot[i] = len(self.ids)
                new.append(i)
        return new

    def slot(self, obj_id: int) -> int:
        """Slot (1..n) of a user id."""
        if not 0 < obj_id < 256 or self._slot[obj_id] == 0:
            raise KeyError(f"object id {obj_id} is not tracked (have {self.ids})")
        return int(self._slot[obj_id])

    def group_of(self, obj_id: int) -> tuple[int, int]:
        """(group, channel 1..max_obj_num) of a user id."""
        k = self.slot(obj_id) - 1
        return k // self.max_obj_num, k % self.max_obj_num + 1

    def to_slots(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) user ids -> (H, W) int64 slots; void (255) and unknown ids -> 0."""
        mask = np.asarray(mask)
        if mask.size and (mask.min() < 0 or mask.max() > 255):
            raise ValueError(
                f"mask: ids must lie in 0..255, got {mask.min()}..{mask.max()}"
            )
        return self._slot[mask.astype(np.int64)]

    def to_ids(self, slots: torch.Tensor | np.ndarray) -> np.ndarray:
        """(H, W) slots 0..n -> (H, W) uint8 user ids."""
        if isinstance(slots, torch.Tensor):
            slots = slots.cpu().numpy()
        lut = np.array([0] + self.ids, dtype=np.uint8)  # slot -> user id
        return lut[slots]
