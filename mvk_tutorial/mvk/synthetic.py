"""MVK-mini: a small, seeded underwater video collection in the MVK and DAVIS layouts.

Quick start::

    from mvk_tutorial.mvk.synthetic import ensure_mvk_mini, load_captions, load_frame_labels
    root = ensure_mvk_mini("book")          # Path; generated once, then cached
    caps = load_captions(root)              # one row per selected frame
    labels = load_frame_labels(root)        # one row per frame of every video

``ensure_mvk_mini(preset="book" | "test", root=None)`` returns
``<parent>/mvk_mini_<preset>_g<GENERATOR_VERSION>`` where ``<parent>`` is ``root``, else
``$MVK_MINI_DIR``, else ``~/.cache/mvk_tutorial``. It generates into a hidden temporary
folder beside it and renames it at the end (when two processes race, the first rename
wins and the other discards its copy), so a collection folder is always complete.
The generator version is in the name: a changed generator never reuses stale data.

Presets (``PRESETS``; seed 0):

===========  =====  ===========  ==========  =========  ===========  ===============
preset       sites  videos/site  frames      size HxW   fps          selected frames
===========  =====  ===========  ==========  =========  ===========  ===============
``test``     2      2            12-16       112x192    24           every 4th frame
``book``     8      8            40-56       256x448    24           every 8th frame
===========  =====  ===========  ==========  =========  ===========  ===============

The last quarter of the videos of each site (at least one) form the DAVIS ``val`` split;
the others are ``train``. Each video has its own generator seeded by ``(seed, site,
video)``; the scene's main class cycles through the eight classes along a site's videos.
Generation is all-or-nothing (no resume): "book" takes under a minute, and a 10-site,
300-video collection (``mvk data synth --out DIR --sites 10 --videos-per-site 30``)
took about 3 minutes on a shared 2-core CPU (``--workers N`` uses N processes).

Files under the collection root (``<site>`` like ``Lanai_Jul2022``, ``NNNN`` the 1-based
video number, ``KKKKK`` the 0-based frame index, ``<seq>`` = ``<site>_NNNN``):

- ``mvk_mini.json``: manifest (preset, generator version, seed, sizes, ``classes``,
  counts); written last, so its presence means the collection is complete.
- ``videos/<site>/NNNN.mp4``: the video (OpenCV ``mp4v``; read it with ``cv2``).
- ``information/metadata/<site>/NNNN.json``: ``site, location, date`` ("2022-07"),
  ``video, duration`` (s), ``fps, num_frames, width, height, camera, classes`` (classes
  visible somewhere in the video), ``selected_frames`` (indices), ``split``,
  ``background, water``.
- ``information/selected_frames/<site>/NNNN_KKKKK.jpg``: the selected frames.
- ``information/thumbnails/<site>/NNNN_KKKKK.jpg``: one thumbnail (160 px wide) per
  selected frame, with the selected frame's name (the published MVK tree).
- ``information/captions.csv``: captions of the selected frames (``load_captions``).
- ``DAVIS/JPEGImages/480p/<seq>/KKKKK.jpg``: every frame (the folder is named ``480p``
  like DAVIS, the frames keep the preset size).
- ``DAVIS/Annotations/480p/<seq>/KKKKK.png``: palette PNGs with the DAVIS palette, object
  ids 1..K per sequence (0 = background), ids stable across frames, drawn after
  occlusion. Every object of a ``val`` sequence is visible in frame 0 (semi-supervised
  DAVIS convention); ``train`` objects may enter later or leave, and in about half the
  multi-object ``train`` videos the last object enters after frame 0 on purpose.
- ``DAVIS/ImageSets/2017/train.txt`` and ``val.txt``: sequence names, one per line.
- ``DAVIS/meta.json``: YouTube-VOS style ``{"videos": {seq: {"objects": {"1":
  {"category": "clownfish", "frames": ["00000", ...]}}}}}`` listing the frames where each
  object is visible (at least 0.1% of the frame's pixels, the rule of
  ``mvk_tutorial.mvk.captions``; an object may first appear after frame 0). The
  annotation PNGs hold every drawn pixel, even below that threshold.
- ``labels/semantic/<seq>/KKKKK.png``: grey PNGs of class ids (index into ``CLASSES``).
- ``labels/frame_labels.csv``: labels of every frame (``load_frame_labels``).
- ``labels/objects.csv``: one row per object (``load_objects``).

``CLASSES`` = ("background", "clownfish", "blue tang", "butterflyfish", "sea turtle",
"reef shark", "scuba diver", "jellyfish", "spotted ray").

Book: ch09 "The Marine Video Kit dataset" (section "MVK-mini, a procedural world").
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from mvk_tutorial.mvk.labels import (
    CLASSES,
    MANIFEST,
    load_captions,
    load_frame_labels,
    load_manifest,
    load_objects,
    read_mask,
)

# v5: spotted rays are "dark" in captions (v4 wrote "dark spotted spotted rays");
# images, masks and labels are unchanged from v4.
# v6: in about half the multi-object train videos the last object enters after frame 0
# (YouTube-VOS late objects); one thumbnail per selected frame (NNNN_KKKKK.jpg), as in
# the published MVK tree. Val videos and all other train videos are unchanged.
GENERATOR_VERSION = 6

#: Dive-site folders, named like MVK's ``<Site>_<MonYYYY>``, with a camera each.
SITES: tuple[tuple[str, str], ...] = (
    ("Lanai_Jul2022", "GoPro HERO10"),
    ("Tulamben1_Jun2022", "Sony RX100 VI"),
    ("Oahu_Jul2022", "GoPro HERO9"),
    ("Amed_Jun2022", "Olympus TG-6"),
    ("Okinawa_Aug2021", "Sony A7 III"),
    ("Maldives_Mar2021", "GoPro HERO8"),
    ("Bohol_Apr2022", "Olympus TG-6"),
    ("Sipadan_May2019", "Canon G7X II"),
    ("PortDouglas_Nov2019", "GoPro HERO7"),
    ("Komodo_Oct2022", "Sony RX100 VI"),
    ("Cebu_Feb2023", "GoPro HERO11"),
    ("RedSea_Sep2021", "Nikon Z6"),
)


@dataclass(frozen=True)
class MiniConfig:
    """Sizes of an MVK-mini collection (see the presets in the module docstring)."""

    sites: int = 8
    videos_per_site: int = 8
    min_frames: int = 40
    max_frames: int = 56
    height: int = 256
    width: int = 448
    fps: float = 24.0
    select_every: int = 8
    max_objects: int = 4
    thumb_width: int = 160
    seed: int = 0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        if not 1 <= self.sites <= len(SITES):
            raise ValueError(f"sites: expected 1..{len(SITES)}, got {self.sites}")
        if not 1 <= self.videos_per_site <= 9999:
            raise ValueError(
                f"videos_per_site: expected 1..9999, got {self.videos_per_site}"
            )
        if not 1 <= self.min_frames <= self.max_frames <= 99999:
            raise ValueError(
                f"frames: expected 1 <= min_frames <= max_frames, got "
                f"{self.min_frames}, {self.max_frames}"
            )
        if self.height < 32 or self.width < 32 or self.height % 2 or self.width % 2:
            raise ValueError(
                f"size: expected even height and width >= 32, got "
                f"{self.height}x{self.width}"
            )
        if self.select_every < 1 or self.seed < 0 or not 1 <= self.max_objects <= 9:
            raise ValueError(
                "select_every >= 1, seed >= 0 and 1 <= max_objects <= 9 expected"
            )


PRESETS: dict[str, MiniConfig] = {
    "test": MiniConfig(
        sites=2,
        videos_per_site=2,
        min_frames=12,
        max_frames=16,
        height=112,
        width=192,
        select_every=4,
        max_objects=3,
    ),
    "book": MiniConfig(),
}


def default_cache_dir() -> Path:
    """``$MVK_MINI_DIR`` if set, else ``~/.cache/mvk_tutorial``."""
    env = os.environ.get("MVK_MINI_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mvk_tutorial"


def ensure_mvk_mini(
    preset: str = "book", root: str | os.PathLike | None = None
) -> Path:
    """Return the folder of the MVK-mini collection ``preset``, generating it if needed.

    ``root`` is the parent folder of the cache (default: :func:`default_cache_dir`).
    Preset "test" takes about a second, "book" under a minute on 2 CPU cores.

    Book: ch09 "The Marine Video Kit dataset".
    """
    if preset not in PRESETS:
        raise ValueError(f"preset: expected one of {sorted(PRESETS)}, got {preset!r}")
    parent = Path(root).expanduser() if root is not None else default_cache_dir()
    final = parent / f"mvk_mini_{preset}_g{GENERATOR_VERSION}"
    if (final / MANIFEST).is_file():
        return final
    if final.exists():
        raise ValueError(
            f"{final}: exists but has no {MANIFEST}; it is not a finished "
            "MVK-mini collection (remove it and call again)"
        )
    return generate_mvk_mini(final, PRESETS[preset], preset=preset, exist_ok=True)


def generate_mvk_mini(
    out: str | os.PathLike,
    config: MiniConfig = MiniConfig(),
    preset: str = "custom",
    progress: bool = True,
    exist_ok: bool = False,
    workers: int = 1,
) -> Path:
    """Write a whole MVK-mini collection to ``out`` atomically and return ``out``.

    Everything is written into a hidden temporary folder beside ``out`` that is renamed
    to ``out`` at the end; on an error it is removed, so no partial output is left. If
    ``out`` already holds a finished collection: with ``exist_ok`` (another process won
    the race) it is returned; otherwise ``ValueError``. ``workers > 1`` writes the
    videos in that many processes (same result).

    Book: ch09 "The Marine Video Kit dataset".
    """
    from mvk_tutorial.mvk.writer import write_collection

    config.validate()
    out = Path(out).expanduser()
    if out.exists() and (not exist_ok or not (out / MANIFEST).is_file()):
        raise ValueError(f"out: {out} already exists; choose a new folder")
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        write_collection(tmp, config, progress=progress, workers=workers)
        manifest = {
            "preset": preset,
            "generator_version": GENERATOR_VERSION,
            "config": asdict(config),
            "classes": list(CLASSES),
        }
        manifest.update(json.loads((tmp / MANIFEST).read_text(encoding="utf-8")))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        try:
            os.rename(tmp, out)
        except OSError:
            if (
                exist_ok and (out / MANIFEST).is_file()
            ):  # another process finished first
                shutil.rmtree(tmp, ignore_errors=True)
                return out
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


__all__ = [
    "CLASSES",
    "GENERATOR_VERSION",
    "PRESETS",
    "SITES",
    "MiniConfig",
    "default_cache_dir",
    "ensure_mvk_mini",
    "generate_mvk_mini",
    "load_captions",
    "load_frame_labels",
    "load_manifest",
    "load_objects",
    "read_mask",
]
