"""The session API (the shape of SAM 2's video predictor and Cutie's InferenceCore).

    session = VOSSession(model)
    state = session.init_state(frames_or_folder)
    session.add_mask(state, 0, first_mask)        # any frame; ids need not be contiguous
    session.add_mask(state, 12, late_object_mask) # objects may join later
    for frame_idx, object_ids, mask in session.propagate(state):
        ...                                       # mask: (H, W) uint8 user ids

Per frame, the session reads and preprocesses the frame (``transforms``), asks the
engine for logits at the original size (``engine``), takes the soft-max and arg-max, and
feeds the label back to memory. A frame with a mask (``add_mask``) is handled as the
official YouTube-VOS evaluator does: the frame is propagated as usual, the given mask
overwrites the prediction where it has objects, and the merged label is added as a
reference frame (new objects join there). Before the first mask nothing is yielded.

Flip test-time augmentation is a wrapper over two states, one on the mirrored video:
their probabilities are averaged for the output, and each state keeps feeding back its
own label (as the official evaluator, whose engines each update with their own
arg-max). ``segment_video`` and ``mvk vos segment`` are short loops over this API.

Book: ch08, section "The engine: memory over time".
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mvk_tutorial.vos.deaot.model import DeAOT
from mvk_tutorial.vos.inference.engine import DeAOTEngine
from mvk_tutorial.vos.inference.objects import ObjectManager
from mvk_tutorial.vos.inference.transforms import (
    label_from_probs,
    official_input_size,
    preprocess,
    resize_label,
)
from mvk_tutorial.vos.io import VOID_ID, list_images, read_frame, read_mask
from mvk_tutorial.vos.io import output_path, write_mask


@dataclass
class InferenceState:
    """One video being segmented: its frames, the masks given, objects, and memory.

    Book: ch08, section "The engine: memory over time".
    """

    frames: Sequence  # (H, W, 3) uint8 RGB arrays or image paths (read when needed)
    names: list[str]  # frame names (file stems, or 00000, 00001, ...)
    image_size: tuple[int, int]  # (H, W) of the video
    input_size: tuple[int, int]  # (h, w) of the network input
    engine: DeAOTEngine
    objects: ObjectManager
    prompts: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> ids
    mirrored: bool = False  # this state sees the horizontally flipped video
    started: bool = False

    @property
    def num_frames(self) -> int:
        """Frames of the video."""
        return len(self.frames)


@dataclass
class FlipState:
    """Flip test-time augmentation: a plain and a mirrored state of the same video,
    sharing their objects and masks.

    Book: ch08, section "The engine: memory over time".
    """

    states: tuple[InferenceState, InferenceState]

    def __getattr__(self, name):  # frames, names, sizes, objects, prompts: the plain one
        if name == "states":
            raise AttributeError(name)
        return getattr(self.states[0], name)


def _as_frame(f, what: str = "frames") -> np.ndarray:
    if isinstance(f, (str, os.PathLike)):
        return read_frame(f)
    f = np.asarray(f)
    if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
        raise ValueError(
            f"{what}: expected (H, W, 3) uint8 RGB arrays, got {f.shape} {f.dtype}"
        )
    return f


class VOSSession:
    """Semi-supervised VOS over whole videos with a DeAOT model.

    Args:
        model: a DeAOT network with its weights, on the device to use.
        long_term_gap, max_long_term: memory settings (see ``DeAOTEngine``).
        max_long_edge, max_short_edge: input size limits (official DAVIS: 1040, None).
        flip: flip test-time augmentation (two states).
        amp: float16 autocast (CUDA only).

    Book: ch08, section "The engine: memory over time".
    """

    def __init__(
        self,
        model: DeAOT,
        *,
        long_term_gap: int | None = None,
        max_long_term: int | None = None,
        max_long_edge: int | None = 1040,
        max_short_edge: int | None = None,
        flip: bool = False,
        amp: bool = False,
    ):
        self.model = model.eval()
        self.long_term_gap, self.max_long_term = long_term_gap, max_long_term
        self.max_long_edge, self.max_short_edge = max_long_edge, max_short_edge
        self.flip, self.amp = flip, amp
        self.device = next(model.parameters()).device

    # ------------------------------------------------------------------ API

    def init_state(
        self, frames: str | os.PathLike | Sequence
    ) -> InferenceState | FlipState:
        """A new state for a video: a folder of frames, image paths, or RGB arrays."""
        if isinstance(frames, (str, os.PathLike)):
            paths = list_images(frames, "frames")
            frames, names = list(paths), [p.stem for p in paths]
        else:  # a list, an array (T, H, W, 3), or any lazy sequence of frames
            frames = frames if hasattr(frames, "__getitem__") else list(frames)
            if len(frames) == 0:
                raise ValueError("frames: the video has no frame")
            first = frames[0]
            if isinstance(first, (str, os.PathLike)):
                names = [Path(f).stem for f in frames]
            else:
                names = [f"{i:05d}" for i in range(len(frames))]
        H, W = _as_frame(frames[0]).shape[:2]
        size = official_input_size(
            H,
            W,
            self.max_long_edge,
            self.max_short_edge,
            align_corners=self.model.cfg.align_corners,
        )
        objects = ObjectManager(self.model.cfg.max_obj_num)
        prompts: dict[int, np.ndarray] = {}

        def state(mirrored: bool) -> InferenceState:
            engine = DeAOTEngine(self.model, self.long_term_gap, self.max_long_term)
            return InferenceState(
                frames, names, (H, W), size, engine, objects, prompts, mirrored
            )

        return FlipState((state(False), state(True))) if self.flip else state(False)

    def add_mask(
        self,
        state: InferenceState | FlipState,
        frame_idx: int,
        mask: np.ndarray | str | os.PathLike,
    ) -> list[int]:
        """Give the mask (H, W) of object ids (array or palette PNG) of frame
        ``frame_idx``; 0 = background, 255 = void (treated as background). Ids need not
        be contiguous; new ids join the tracked objects at that frame. Returns the ids
        present in the mask."""
        if isinstance(mask, (str, os.PathLike)):
            mask = read_mask(mask)
        mask = np.asarray(mask)
        if not 0 <= frame_idx < state.num_frames:
            raise ValueError(
                f"frame_idx: expected 0..{state.num_frames - 1}, got {frame_idx}"
            )
        if mask.shape != state.image_size:
            raise ValueError(
                f"mask of frame {frame_idx}: shape {mask.shape} differs from the "
                f"frames {state.image_size}"
            )
        if not np.issubdtype(mask.dtype, np.integer) or (
            mask.size and (mask.min() < 0 or mask.max() > 255)
        ):
            raise ValueError(f"mask of frame {frame_idx}: expected ids in 0..255")
        if state.started:
            raise RuntimeError("add_mask: give every mask before propagate starts")
        mask = np.where(mask == VOID_ID, 0, mask).astype(np.uint8)
        ids = [int(i) for i in np.unique(mask) if i != 0]
        if not ids:
            raise ValueError(f"mask of frame {frame_idx}: no object (all background)")
        state.prompts[frame_idx] = mask
        return ids

    def propagate(
        self, state: InferenceState | FlipState
    ) -> Iterator[tuple[int, list[int], np.ndarray]]:
        """Yield ``(frame_idx, object_ids, mask)`` from the first masked frame to the
        last frame; ``mask`` is (H, W) uint8 user ids at the video's size."""
        views = state.states if isinstance(state, FlipState) else (state,)
        if not state.prompts:
            raise RuntimeError("propagate: call add_mask first")
        if views[0].started:
            raise RuntimeError("propagate: this state was already propagated")
        for v in views:
            v.started = True
        autocast = torch.autocast(
            "cuda",
            dtype=torch.float16,
            enabled=self.amp and self.device.type == "cuda",
        )
        for t in range(min(state.prompts), state.num_frames):
            with torch.inference_mode(), autocast:  # not held across the yield
                out = self._step(views, t)
            yield t, list(state.objects.ids), state.objects.to_ids(out)

    # ------------------------------------------------------------------ one frame

    def _step(self, views: Sequence[InferenceState], t: int) -> torch.Tensor:
        """Segment frame ``t`` in every view; returns the (H, W) label of slots."""
        main = views[0]
        frame = _as_frame(main.frames[t])
        if frame.shape[:2] != main.image_size:
            raise ValueError(
                f"frames: frame {t} has size {frame.shape[:2]}, frame 0 "
                f"{main.image_size}"
            )
        xs = [preprocess(frame, v.input_size, self.device, v.mirrored) for v in views]
        prompt = main.prompts.get(t)
        if prompt is not None:
            main.objects.add(np.unique(prompt[prompt > 0]))
            given = torch.from_numpy(main.objects.to_slots(prompt)).to(self.device)
            given = given.view(1, 1, *main.image_size)  # (1, 1, H, W) slots
        n = main.objects.num_objects
        if not views[0].engine.groups:  # the first masked frame: reference only
            for v, x in zip(views, xs):
                v.engine.add_reference(x, self._label_for(v, given), n)
            return given[0, 0]
        probs = []
        for v, x in zip(views, xs):
            p = torch.softmax(v.engine.propagate(x, main.image_size).float(), dim=1)
            p = torch.flip(p, dims=[-1]) if v.mirrored else p  # (1, n+1, H, W)
            probs.append(p)
        out = label_from_probs(torch.stack(probs).mean(0))  # (1, 1, H, W)
        own = [label_from_probs(p) for p in probs]  # each view's own label
        if prompt is None:
            for v, label in zip(views, own):
                v.engine.update_memory(self._label_for(v, label))
            return out[0, 0]
        # a masked frame: the given objects overwrite the prediction; the merged label
        # becomes a reference frame (new objects join here)
        keep = given == 0
        out = torch.where(keep, out, given)
        for v, x, label in zip(views, xs, own):
            merged = torch.where(keep, label, given)
            v.engine.add_reference(x, self._label_for(v, merged), n)
        return out[0, 0]

    @staticmethod
    def _label_for(v: InferenceState, label: torch.Tensor) -> torch.Tensor:
        """(1, 1, H, W) slots at the video size -> this view's input (mirror, resize)."""
        label = torch.flip(label, dims=[-1]) if v.mirrored else label
        return resize_label(label, v.input_size)


# ---------------------------------------------------------------------- video loops


def iter_segment_video(
    model: DeAOT,
    frames: Sequence,
    first_mask: np.ndarray | str,
    num_objects: int | None = None,
    *,
    flip: bool = False,
    long_term_gap: int | None = None,
    max_long_term: int | None = None,
    max_long_edge: int | None = 1040,
    max_short_edge: int | None = None,
    amp: bool = False,
) -> Iterator[np.ndarray]:
    """Yield one (H, W) uint8 mask of ids per frame (frame 0: the given mask).

    Args:
        model: a DeAOT network with its weights (on the device to use).
        frames: (H, W, 3) uint8 RGB arrays or image paths, in order.
        first_mask: (H, W) ids of frame 0 (array or palette PNG path); 255 = void.
        num_objects: default: the largest id of ``first_mask``.
        flip: also run a horizontally flipped copy and average the probabilities.
        long_term_gap, max_long_term: see ``DeAOTEngine``.
        max_long_edge: long side limit of the input (official DAVIS: 1040).
        max_short_edge: short side limit, applied first (official DAVIS: None).
        amp: autocast to float16 (CUDA only).

    Book: ch08, section "The engine: memory over time".
    """
    if isinstance(first_mask, (str, os.PathLike)):
        first_mask = read_mask(first_mask)
    label0 = np.where(np.asarray(first_mask) == VOID_ID, 0, first_mask)
    n = int(label0.max()) if num_objects is None else num_objects
    if n < 1:
        raise ValueError("first_mask: no object (all pixels are background)")
    if int(label0.max()) > n:
        raise ValueError(f"first_mask: id {int(label0.max())} > num_objects={n}")
    session = VOSSession(
        model,
        long_term_gap=long_term_gap,
        max_long_term=max_long_term,
        max_long_edge=max_long_edge,
        max_short_edge=max_short_edge,
        flip=flip,
        amp=amp,
    )
    state = session.init_state(frames)
    session.add_mask(state, 0, label0)
    state.objects.add(range(1, n + 1))  # DAVIS: ids 1..n, also those absent at frame 0
    for _, _, mask in session.propagate(state):
        yield mask


def segment_video(
    model: DeAOT,
    frames: Sequence,
    first_mask: np.ndarray | str,
    num_objects: int | None = None,
    **kwargs,
) -> list[np.ndarray]:
    """All masks of a video as a list of (H, W) uint8 arrays; see ``iter_segment_video``.

    Book: ch08, section "The engine: memory over time".
    """
    return list(iter_segment_video(model, frames, first_mask, num_objects, **kwargs))


def segment_folder(
    model: DeAOT,
    frames_dir: str | Path,
    first_mask: str | Path,
    out_dir: str | Path,
    progress: bool = True,
    **kwargs,
) -> int:
    """Segment the frames of a folder (sorted .jpg/.png) and write palette PNGs named like
    the frames into ``out_dir``; returns the number of frames written.

    Book: ch08, section "The engine: memory over time".
    """
    from tqdm import tqdm


    paths = list_images(frames_dir, "--frames")
    masks = iter_segment_video(model, paths, first_mask, **kwargs)
    for p, m in tqdm(
        zip(paths, masks),
        total=len(paths),
        desc=Path(frames_dir).name,
        disable=not progress,
    ):
        write_mask(output_path(out_dir, None, p.stem), m)
    return len(paths)
