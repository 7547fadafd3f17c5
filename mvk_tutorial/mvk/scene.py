"""The scene description of an MVK-mini video: animal classes, objects, paths, camera.

A :class:`Scene` is plain data sampled from a seeded ``numpy.random.Generator``; the
renderer (``mvk_tutorial.mvk.render``) draws it and the captioner
(``mvk_tutorial.mvk.captions``) describes it, so pixels, masks, labels and captions all
come from one description and cannot disagree.

Classes (``CLASSES``; id 0 is ``"background"``, animals are 1..8) were chosen so that a
tiny ViT can tell them apart on a CPU: each has its own colour and silhouette.

Book: ch09 "The Marine Video Kit dataset" (section "MVK-mini, a procedural world").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class AnimalClass:
    """One animal class: its name, the words captions use, and how it looks and moves.

    ``size`` is the body length range as a fraction of the frame width; ``speed`` the
    range of horizontal speed in body lengths per second. Book: ch09.
    """

    name: str
    plural: str
    colour: str  # colour words used by expert captions
    group: str  # coarse word used by automatic / novice captions
    size: tuple[float, float]
    speed: tuple[float, float]


ANIMALS: tuple[AnimalClass, ...] = (
    AnimalClass(
        "clownfish", "clownfish", "orange and white", "fish", (0.12, 0.17), (0.4, 0.9)
    ),
    AnimalClass(
        "blue tang", "blue tangs", "blue and yellow", "fish", (0.12, 0.17), (0.4, 0.9)
    ),
    AnimalClass(
        "butterflyfish", "butterflyfish", "yellow", "fish", (0.11, 0.16), (0.3, 0.8)
    ),
    AnimalClass(
        "sea turtle",
        "sea turtles",
        "green and brown",
        "turtle",
        (0.18, 0.26),
        (0.15, 0.35),
    ),
    AnimalClass(
        "reef shark", "reef sharks", "grey", "shark", (0.28, 0.38), (0.25, 0.5)
    ),
    AnimalClass(
        "scuba diver", "scuba divers", "black", "diver", (0.28, 0.36), (0.1, 0.25)
    ),
    AnimalClass(
        "jellyfish", "jellyfish", "pink", "jellyfish", (0.11, 0.16), (0.05, 0.15)
    ),
    AnimalClass(
        "spotted ray", "spotted rays", "dark", "ray", (0.18, 0.26), (0.2, 0.4)
    ),
)

#: Class names indexed by class id; id 0 is the background (water, sand, coral, rock).
CLASSES: tuple[str, ...] = ("background",) + tuple(a.name for a in ANIMALS)

#: Backgrounds a scene can have, with the words expert captions use for them.
BACKGROUNDS: dict[str, str] = {
    "reef": "a colourful coral reef",
    "sand": "a sandy bottom",
    "rocks": "a rocky bottom",
    "open": "open water",
}

#: Water tints (name -> BGR multiplier) applied as a colour cast.
WATER_CASTS: dict[str, tuple[float, float, float]] = {
    "blue": (1.08, 0.95, 0.80),
    "green": (0.85, 1.05, 0.82),
    "turquoise": (1.05, 1.05, 0.78),
}


@dataclass
class SceneObject:
    """One animal in a video, with a smooth path in frame coordinates.

    Position at frame ``t``: ``x0 + vx*t + ax*sin(wx*t + px)`` (same for ``y``). ``depth``
    in [0, 1] (0 nearest) sets the drawing order: nearer objects are drawn later and
    occlude farther ones. ``obj_id`` is the DAVIS object id (1..K). Book: ch09.
    """

    obj_id: int
    class_id: int
    depth: float
    length: float  # body length in pixels
    x0: float
    y0: float
    vx: float
    vy: float
    ax: float
    ay: float
    wx: float
    wy: float
    px: float
    py: float
    phase: float  # animation phase (tail beat, flippers, pulsing)

    def position(self, t: float) -> tuple[float, float]:
        """Centre ``(x, y)`` in pixels at frame ``t`` before camera drift."""
        x = self.x0 + self.vx * t + self.ax * np.sin(self.wx * t + self.px)
        y = self.y0 + self.vy * t + self.ay * np.sin(self.wy * t + self.py)
        return float(x), float(y)

    def heading(self, t: float) -> int:
        """+1 when swimming to the right at frame ``t``, -1 to the left."""
        dx = self.vx + self.ax * self.wx * np.cos(self.wx * t + self.px)
        return 1 if dx >= 0 else -1


@dataclass
class Scene:
    """Everything needed to draw one video: size, length, background, camera, objects.

    ``camera`` holds the drift: offset ``(cx*t + cax*sin(cw*t), cy*t)`` in pixels at
    frame ``t``. ``blur`` is the Gaussian sigma of the defocus, ``cast`` a key of
    ``WATER_CASTS``. ``seed`` seeds the background texture and the noise. Book: ch09.
    """

    height: int
    width: int
    num_frames: int
    fps: float
    background: str
    cast: str
    blur: float
    camera: tuple[float, float, float, float]
    seed: int
    objects: list[SceneObject] = field(default_factory=list)

    def camera_offset(self, t: float) -> tuple[float, float]:
        """Camera displacement ``(dx, dy)`` in pixels at frame ``t`` (0 at frame 0)."""
        cx, cax, cw, cy = self.camera
        return cx * t + cax * np.sin(cw * t), cy * t


def sample_object(
    rng: np.random.Generator,
    obj_id: int,
    class_id: int,
    height: int,
    width: int,
    num_frames: int,
    fps: float,
    start_inside: bool,
) -> SceneObject:
    """Sample one object of class ``class_id`` with a smooth path (Book: ch09).

    With ``start_inside`` the object starts well inside the frame; otherwise it may
    start outside and swim in, or swim out before the end.
    """
    animal = ANIMALS[class_id - 1]
    depth = float(rng.uniform(0.0, 1.0))
    scale = 1.0 - 0.35 * depth  # farther animals look smaller
    length = float(rng.uniform(*animal.size)) * width * scale
    speed = float(rng.uniform(*animal.speed)) * length / fps  # pixels per frame
    direction = 1.0 if rng.random() < 0.5 else -1.0
    vx = direction * speed
    vy = float(rng.normal(0.0, 0.15)) * speed
    if start_inside:
        x0 = float(rng.uniform(0.2, 0.8)) * width
    else:  # anywhere along a line that crosses the frame during the video
        travel = vx * num_frames
        x0 = (
            float(rng.uniform(0.15, 0.85)) * width
            - float(rng.uniform(0.0, 1.0)) * travel
        )
    y0 = float(rng.uniform(0.2, 0.8)) * height
    return SceneObject(
        obj_id=obj_id,
        class_id=class_id,
        depth=depth,
        length=length,
        x0=x0,
        y0=y0,
        vx=vx,
        vy=vy,
        ax=float(rng.uniform(0.0, 0.04)) * width,
        ay=float(rng.uniform(0.0, 0.05)) * height,
        wx=float(rng.uniform(0.03, 0.12)),
        wy=float(rng.uniform(0.05, 0.2)),
        px=float(rng.uniform(0, 2 * np.pi)),
        py=float(rng.uniform(0, 2 * np.pi)),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )


def sample_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    num_frames: int,
    fps: float = 24.0,
    max_objects: int = 4,
    start_inside: bool = False,
    cast: str | None = None,
    main_class: int | None = None,
) -> Scene:
    """Sample a scene: a background, a camera drift, and 1..``max_objects`` animals.

    The first object's class (the scene's "main" class: ``main_class``, or drawn
    uniformly when None) is the class of the first object; each other
    object repeats it with probability 0.7 (a school of fish, a group of divers), else
    gets a uniformly drawn class. ``start_inside=True`` keeps every
    object inside the frame at frame 0 (used for DAVIS val sequences).

    Book: ch09 "The Marine Video Kit dataset".
    """
    if height < 32 or width < 32 or num_frames < 1:
        raise ValueError(
            f"scene size: expected height, width >= 32 and num_frames >= 1, "
            f"got {height}x{width}x{num_frames}"
        )
    background = str(rng.choice(list(BACKGROUNDS), p=[0.4, 0.25, 0.2, 0.15]))
    cast = cast or str(rng.choice(list(WATER_CASTS)))
    count = int(rng.integers(1, max_objects + 1))
    main = int(rng.integers(1, len(CLASSES))) if main_class is None else int(main_class)
    if not 1 <= main < len(CLASSES):
        raise ValueError(
            f"main_class: expected 1..{len(CLASSES) - 1}, got {main_class}"
        )
    objects = []
    for k in range(count):
        class_id = (
            main
            if (k == 0 or rng.random() < 0.7)
            else int(rng.integers(1, len(CLASSES)))
        )
        objects.append(
            sample_object(
                rng, k + 1, class_id, height, width, num_frames, fps, start_inside
            )
        )
    camera = (
        float(rng.normal(0.0, 0.25)),
        float(rng.uniform(0.0, 6.0)),
        float(rng.uniform(0.05, 0.15)),
        float(rng.normal(0.0, 0.08)),
    )
    return Scene(
        height=height,
        width=width,
        num_frames=num_frames,
        fps=fps,
        background=background,
        cast=cast,
        blur=float(rng.uniform(0.3, 1.2)),
        camera=camera,
        seed=int(rng.integers(0, 2**31 - 1)),
        objects=objects,
    )
