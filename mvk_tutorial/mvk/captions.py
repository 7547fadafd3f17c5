"""Captions and class labels of an MVK-mini frame, computed from what is visible.

The MVK known-item-search study compares three kinds of text query for the same target
frame: the ClipCap caption, a novice's description and a VBS expert's description. We
make all three from the scene and the rendered object-id map, so they can only say
what really is in the frame:

- ``automatic``: terse and repetitive, one of fifteen ClipCap-like sentences
  chosen from the largest visible animal and the background ("a coral reef with fish.");
- ``novice``: vague, a loose noun for the main animal and a loose setting, worded
  differently from frame to frame ("some fish near the bottom");
- ``expert``: precise, every visible class with its count, colour and positions (up to
  three regions of a 3x3 grid, else "spread across the frame"), then the background
  and the water colour ("Two orange and white clownfish at the top left and on the
  right and one grey reef shark in the center, over a sandy bottom, in green water.").

An object counts as visible when at least ``min_visible_fraction`` of the frame's
pixels (and at least 16 pixels) show it after occlusion.

Book: ch09, section "Thumbnails and their captions".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mvk_tutorial.mvk.scene import ANIMALS, BACKGROUNDS, CLASSES, Scene

NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
MIN_VISIBLE_FRACTION = 0.001


@dataclass(frozen=True)
class Visible:
    """A visible object: id, class, visible pixel count and centroid (x, y) in pixels."""

    obj_id: int
    class_id: int
    pixels: int
    cx: float
    cy: float


def visible_objects(
    scene: Scene,
    instance_ids: np.ndarray,
    min_visible_fraction: float = MIN_VISIBLE_FRACTION,
) -> list[Visible]:
    """Objects of ``scene`` with enough visible pixels in ``instance_ids`` (H, W).

    Sorted by visible area, largest first. Book: ch09.
    """
    h, w = instance_ids.shape
    flat = instance_ids.ravel()
    nz = np.flatnonzero(flat)  # object pixels only: the same sums, in the same order
    ys, xs = _grid(h, w)
    counts = np.bincount(flat[nz], minlength=256)
    sum_x = np.bincount(flat[nz], weights=xs[nz], minlength=256)
    sum_y = np.bincount(flat[nz], weights=ys[nz], minlength=256)
    threshold = max(16, int(np.ceil(min_visible_fraction * h * w)))
    out = [
        Visible(
            o.obj_id,
            o.class_id,
            int(counts[o.obj_id]),
            sum_x[o.obj_id] / counts[o.obj_id],
            sum_y[o.obj_id] / counts[o.obj_id],
        )
        for o in scene.objects
        if counts[o.obj_id] >= threshold
    ]
    return sorted(out, key=lambda v: (-v.pixels, v.obj_id))


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.divmod(np.arange(h * w, dtype=np.float64), w)  # (H*W,) each
    return ys, xs


def region(cx: float, cy: float, height: int, width: int) -> str:
    """Position words for a point in a 3x3 grid: "at the top left", "in the center"..."""
    col = ("left", "center", "right")[min(2, int(3 * cx / width))]
    row = ("top", "middle", "bottom")[min(2, int(3 * cy / height))]
    if row == "middle":
        return "in the center" if col == "center" else f"on the {col}"
    return f"at the {row}" if col == "center" else f"at the {row} {col}"


def expert_caption(scene: Scene, visible: list[Visible]) -> str:
    """Counts, colours and positions of every visible class, then the background."""
    phrases = []
    for class_id in sorted({v.class_id for v in visible}):
        group = [v for v in visible if v.class_id == class_id]
        animal = ANIMALS[class_id - 1]
        name = animal.name if len(group) == 1 else animal.plural
        places = list(
            dict.fromkeys(region(v.cx, v.cy, scene.height, scene.width) for v in group)
        )
        if len(places) > 3:
            where = "spread across the frame"
        else:
            where = (
                places[0]
                if len(places) == 1
                else ", ".join(places[:-1]) + " and " + places[-1]
            )
        count = (
            NUMBER_WORDS[len(group)]
            if len(group) < len(NUMBER_WORDS)
            else str(len(group))
        )
        phrases.append(f"{count} {animal.colour} {name} {where}")
    setting = f"{BACKGROUNDS[scene.background]}, in {scene.cast} water."
    if not phrases:
        return f"No animals, only {setting}"
    animals = (
        phrases[0]
        if len(phrases) == 1
        else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    )
    return f"{animals[0].upper()}{animals[1:]}, over {setting}"


def automatic_caption(scene: Scene, visible: list[Visible]) -> str:
    """A ClipCap-like caption: a few fixed sentences, chosen by the largest animal."""
    reef = scene.background == "reef"
    if not visible:
        if reef:
            return "a coral reef in the ocean."
        return (
            "an underwater view of the ocean."
            if scene.background == "open"
            else "a view of the ocean floor."
        )
    group = ANIMALS[visible[0].class_id - 1].group
    if group == "fish":
        n_fish = sum(ANIMALS[v.class_id - 1].group == "fish" for v in visible)
        if reef:
            return "a coral reef with fish."
        return (
            "a school of fish swimming in the ocean."
            if n_fish >= 3
            else "a fish swimming in the ocean."
        )
    subject = {
        "diver": "a scuba diver",
        "shark": "a shark",
        "turtle": "a turtle",
        "ray": "a large fish",
        "jellyfish": "a jellyfish",
    }[group]
    if reef and group != "jellyfish":
        return f"{subject} swimming over a coral reef."
    return f"{subject} swimming in the {'water' if group == 'jellyfish' else 'ocean'}."


_NOVICE_NOUNS = {
    "fish": ("some fish", "a small fish", "colourful fish", "fish"),
    "turtle": ("a turtle", "some big animal", "a sea creature with a shell"),
    "shark": ("a big fish", "a shark maybe", "a large grey animal"),
    "diver": ("a person", "someone diving", "a diver"),
    "jellyfish": ("a jellyfish", "something pink floating", "a strange creature"),
    "ray": ("a flat fish", "a dark animal", "some kind of ray"),
    None: ("just water", "nothing much", "the sea"),
}
_NOVICE_SETTINGS = (
    "in the sea",
    "under water",
    "near the bottom",
    "in the water",
    "swimming around",
)


def novice_caption(
    scene: Scene, visible: list[Visible], rng: np.random.Generator
) -> str:
    """A vague description: a loose noun for the main animal, a loose setting."""
    group = ANIMALS[visible[0].class_id - 1].group if visible else None
    nouns = _NOVICE_NOUNS[group]
    noun = nouns[int(rng.integers(len(nouns)))]
    setting = _NOVICE_SETTINGS[int(rng.integers(len(_NOVICE_SETTINGS)))]
    if scene.background == "reef" and rng.random() < 0.4:
        setting = "with some coral"
    return f"{noun} {setting}"


def frame_captions(
    scene: Scene, instance_ids: np.ndarray, t: int, visible: list[Visible] | None = None
) -> dict[str, str]:
    """The three captions of frame ``t``: keys ``automatic``, ``novice``, ``expert``.

    Deterministic: the novice wording is drawn from a generator seeded by the scene seed
    and ``t``. ``visible`` may be passed when already computed.
    Book: ch09, section "Thumbnails and their captions".
    """
    visible = visible_objects(scene, instance_ids) if visible is None else visible
    rng = np.random.default_rng([scene.seed, 3, t])
    return {
        "automatic": automatic_caption(scene, visible),
        "novice": novice_caption(scene, visible, rng),
        "expert": expert_caption(scene, visible),
    }


def frame_labels(
    scene: Scene, instance_ids: np.ndarray, visible: list[Visible] | None = None
) -> dict[str, object]:
    """Classification labels of a frame: visible classes, main class, pixels per class.

    ``main_class`` is the class with the most visible pixels, ``"background"`` when no
    animal is visible. Book: ch09 (used by the ViT chapters as labels).
    """
    visible = visible_objects(scene, instance_ids) if visible is None else visible
    pixels = {name: 0 for name in CLASSES[1:]}
    for v in visible:
        pixels[CLASSES[v.class_id]] += v.pixels
    present = sorted({CLASSES[v.class_id] for v in visible}, key=CLASSES.index)
    main = max(present, key=lambda c: pixels[c]) if present else "background"
    return {
        "present": present,
        "main_class": main,
        "pixels": pixels,
        "num_visible": len(visible),
    }
