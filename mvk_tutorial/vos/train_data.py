"""Training clips for semi-supervised VOS from DAVIS-layout folders (MVK-mini, DAVIS).

A clip is ``clip_len`` frames of one sequence in time order, with random gaps between
them, augmented as aot-benchmark's training pipeline does where it makes sense here:
one random scale and crop for the whole clip (chosen so that the first frame shows an
object when possible), a horizontal flip, and a colour jitter per frame. Objects that
are not visible in the clip's first frame become background (semi-supervised: only
the first frame's objects are given), and ids are renumbered 1..K.

Object-aware sampling (ours, ``multi_object``): a fraction of the clips start on a frame
that shows two or more objects, with the crop, of several candidates, that keeps the most
of them in view. Without it, most crops of MVK-mini hold one small object, and a network
trained on them never learns to keep two identities apart.

Sampling is a pure function of ``(seed, step, rank, slot)``: a resumed run draws the same
clips as an uninterrupted one without saving any loader state.

Book: ch08, section "Training DeAOT on MVK-mini".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from mvk_tutorial.vos.data import list_annotations, list_frames, list_sequences, read_mask
from mvk_tutorial.mvk.synthetic import GENERATOR_VERSION, PRESETS, default_cache_dir, ensure_mvk_mini, generate_mvk_mini

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


@dataclass(frozen=True)
class ClipConfig:
    """Clip sampling and augmentation settings (official names in comments).

    Book: ch08, section "Training DeAOT on MVK-mini".
    """

    clip_len: int = 5  # DATA_SEQ_LEN
    crop: tuple[int, int] = (129, 129)  # DATA_RANDOMCROP (16k+1)
    max_gap: int = 3  # DATA_RANDOM_GAP
    scale: tuple[float, float] = (0.5, 1.0)  # DATA_MIN_SCALE_FACTOR, MAX (of the frame)
    flip: float = 0.5  # DATA_RANDOMFLIP
    jitter: float = 0.2  # brightness / contrast / saturation strength
    max_obj: int = 10  # MODEL_MAX_OBJ_NUM
    # Ours (object-aware sampling): the fraction of clips drawn from a sequence and a
    # start frame showing >= 2 objects, cropped where the most objects are in view, so
    # that the ID channels of objects 2, 3, ... are trained as often as object 1's.
    multi_object: float = 0.0
    crop_tries: int = 10  # candidate crop positions tried per clip


class DavisClips:
    """Random training clips from ``<davis_root>/{JPEGImages,Annotations}/480p``.

    Args:
        davis_root: a DAVIS-layout folder (``<mvk-mini>/DAVIS`` or DAVIS 2017), or a
            list of them (their sequences are pooled, e.g. MVK-mini of several seeds).
        split: image set, e.g. ``"train"``, or several: ``"train,val"``.
        cfg: a ``ClipConfig``.
        seed: base seed of the sampler.

    Book: ch08, section "Training DeAOT on MVK-mini".
    """

    def __init__(
        self, davis_root, split: str = "train", cfg=ClipConfig(), seed: int = 0
    ):
        roots = davis_root if isinstance(davis_root, (list, tuple)) else [davis_root]
        if not roots:
            raise ValueError("davis_root: expected a folder or a non-empty list of folders")
        self.roots = [Path(r) for r in roots]
        self.cfg, self.seed = cfg, seed
        self.sequences = []
        for root in self.roots:
            names = []  # "train,val" -> both image sets
            for part in split.split(","):
                names += list_sequences(root, year="2017", split=part.strip())
            for name in names:
                frames = list_frames(root, name)
                annos = list_annotations(root, name)
                if len(annos) != len(frames):
                    raise ValueError(
                        f"{root}: sequence {name} has {len(frames)} frames but "
                        f"{len(annos)} annotations; training needs every frame annotated"
                    )
                if len(frames) >= cfg.clip_len:
                    self.sequences.append((name, frames, annos))
        if not self.sequences:
            where = ", ".join(str(r) for r in self.roots)
            raise ValueError(
                f"{where}: no {split!r} sequence with >= {cfg.clip_len} frames"
            )
        if not 0.0 <= cfg.multi_object <= 1.0:
            raise ValueError(f"multi_object: expected a fraction in [0, 1], got {cfg.multi_object}")
        # per sequence: the frames whose mask shows >= 2 objects (read only when needed)
        self.multi_frames: list[np.ndarray] = []
        if cfg.multi_object > 0:
            for _, _, annos in self.sequences:
                counts = np.array(
                    [len(np.setdiff1d(np.unique(read_mask(a)), [0, 255])) for a in annos]
                )
                self.multi_frames.append(np.flatnonzero(counts >= 2))
        self.multi_sequences = [i for i, f in enumerate(self.multi_frames) if len(f)]

    def __len__(self) -> int:
        return len(self.sequences)

    @staticmethod
    def _read(path: Path, mask: bool) -> np.ndarray:
        if mask:
            return read_mask(path)
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{path}: not a readable image")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def sample(self, step: int, slot: int = 0) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Clip ``slot`` of ``step``: frames (T, 3, h, w) normalised, masks (T, 1, h, w)
        long, and its number of objects K."""
        cfg = self.cfg
        rng = np.random.default_rng([self.seed, step, slot])
        # the extra draw only happens with object-aware sampling on, so that runs
        # without it draw exactly the clips they drew before the option existed
        multi = (
            cfg.multi_object > 0
            and bool(self.multi_sequences)
            and rng.random() < cfg.multi_object
        )
        if multi:
            seq_i = self.multi_sequences[rng.integers(len(self.multi_sequences))]
        else:
            seq_i = rng.integers(len(self.sequences))
        name, frames, annos = self.sequences[seq_i]
        T, n = cfg.clip_len, len(frames)
        gaps = rng.integers(1, cfg.max_gap + 1, size=T - 1)
        while gaps.sum() > n - 1:  # shorten the gaps until the clip fits
            gaps[np.argmax(gaps)] -= 1
        if multi:  # the clip's first frame shows >= 2 objects (played forwards or back)
            backwards = rng.random() < 0.5
            span = int(gaps.sum())
            cand = self.multi_frames[seq_i]
            fits = cand[cand >= span] if backwards else cand[cand <= n - 1 - span]
            first = int((fits if len(fits) else cand)[rng.integers(len(fits) or len(cand))])
            first = max(first, span) if backwards else min(first, n - 1 - span)
            offsets = np.concatenate([[0], np.cumsum(gaps)])  # (T,)
            idx = first - offsets if backwards else first + offsets
        else:
            start = rng.integers(0, n - gaps.sum())
            idx = np.concatenate([[start], start + np.cumsum(gaps)])
            if rng.random() < 0.5:  # play the clip backwards (the motion is symmetric)
                idx = idx[::-1]
        imgs = [self._read(frames[i], False) for i in idx]
        masks = [self._read(annos[i], True) for i in idx]
        H, W = masks[0].shape
        ch, cw = cfg.crop
        s = rng.uniform(*cfg.scale)
        s = max(s, ch / H, cw / W)  # the crop must fit
        sh, sw = max(ch, round(H * s)), max(cw, round(W * s))
        m0 = cv2.resize(masks[0], (sw, sh), interpolation=cv2.INTER_NEAREST)
        if multi:  # of the candidate crops, the one showing the most objects in frame 0
            best = -1
            for _ in range(cfg.crop_tries):
                cy, cx = rng.integers(0, sh - ch + 1), rng.integers(0, sw - cw + 1)
                seen = np.unique(m0[cy : cy + ch, cx : cx + cw])
                k = int(((seen > 0) & (seen < 255)).sum())
                if k > best:
                    best, y, x = k, cy, cx
        else:
            for _ in range(cfg.crop_tries):  # prefer a crop showing an object in frame 0
                y, x = rng.integers(0, sh - ch + 1), rng.integers(0, sw - cw + 1)
                if (m0[y : y + ch, x : x + cw] > 0).any():
                    break
        flip = rng.random() < cfg.flip
        out_f, out_m = [], []
        for img, m in zip(imgs, masks):
            img = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_LINEAR)
            m = cv2.resize(m, (sw, sh), interpolation=cv2.INTER_NEAREST)
            img, m = img[y : y + ch, x : x + cw], m[y : y + ch, x : x + cw]
            if flip:
                img, m = img[:, ::-1], m[:, ::-1]
            out_f.append(self._jitter(img, rng))
            out_m.append(m)
        m = np.stack(out_m).astype(np.int64)  # (T, h, w)
        m[m == 255] = 0
        ids = [i for i in np.unique(m[0]) if i > 0][: cfg.max_obj]
        remap = np.zeros(max(256, int(m.max()) + 1), np.int64)
        remap[ids] = np.arange(1, len(ids) + 1)
        m = remap[m]  # objects absent from frame 0 -> background; ids 1..K
        x = np.stack(out_f)  # (T, h, w, 3) float in [0, 1]
        x = (x - MEAN) / STD
        frames_t = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)
        return frames_t.float(), torch.from_numpy(m).unsqueeze(1), len(ids)

    def _jitter(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """uint8 RGB -> float [0, 1] with random brightness, contrast, saturation."""
        j = self.cfg.jitter
        x = img.astype(np.float32) / 255.0
        b, c, s = rng.uniform(1 - j, 1 + j, size=3)
        x = x * b
        x = (x - x.mean()) * c + x.mean()
        grey = x.mean(axis=2, keepdims=True)
        x = (x - grey) * s + grey
        return np.clip(x, 0.0, 1.0)

    def batch(self, step: int, batch_size: int, rank: int = 0):
        """Clip slots ``rank*B .. rank*B+B-1`` of ``step`` stacked: (B, T, 3, h, w),
        (B, T, 1, h, w), (B,) object counts. P ranks with batch B draw the clips of one
        rank with batch P*B."""
        first = rank * batch_size
        clips = [self.sample(step, first + i) for i in range(batch_size)]
        return (
            torch.stack([c[0] for c in clips]),
            torch.stack([c[1] for c in clips]),
            torch.tensor([c[2] for c in clips]),
        )


def mvk_mini_collection(data_seed: int = 1, preset: str = "book") -> Path:
    """The MVK-mini collection of ``preset`` sizes generated with ``data_seed``.

    Seed 0 is the book's cached collection (``ensure_mvk_mini(preset)``), whose ``val``
    videos the book scores; other seeds give new videos (the same sites and classes),
    cached as ``<cache>/mvk_mini_<preset>_seed<S>_g<generator version>``.

    Book: ch08, section "Training DeAOT on MVK-mini".
    """
    from dataclasses import replace


    if data_seed == 0:
        return ensure_mvk_mini(preset)
    if preset not in PRESETS:
        raise ValueError(f"preset: expected one of {sorted(PRESETS)}, got {preset!r}")
    if data_seed < 0:
        raise ValueError(f"data_seed: expected >= 0, got {data_seed}")
    out = default_cache_dir() / f"mvk_mini_{preset}_seed{data_seed}_g{GENERATOR_VERSION}"
    if (out / "mvk_mini.json").is_file():
        return out
    config = replace(PRESETS[preset], seed=data_seed)
    return generate_mvk_mini(
        out, config, preset=f"{preset}-seed{data_seed}", progress=False, exist_ok=True
    )
