"""Drawing an MVK-mini :class:`~mvk_tutorial.mvk.scene.Scene` with numpy and OpenCV.

One frame is made in three steps:

1. the background: a crop of a larger seabed picture (water gradient, then sand,
   rocks or coral, depending on ``scene.background``), shifted by the camera drift;
2. the animals, far to near (``depth`` descending): each part is drawn into the picture
   and, with the same OpenCV call and no anti-aliasing, into the object-id map, so a
   nearer animal overwrites both the colour and the id of a farther one (occlusion);
3. the effects on the whole picture: light caustics, the water colour cast, defocus
   blur and sensor noise. They change colours, never the masks.

Book: ch09 "The Marine Video Kit dataset" (section "MVK-mini, a procedural world").
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mvk_tutorial.mvk.scene import WATER_CASTS, Scene
from mvk_tutorial.mvk.sprites import object_parts

WATER_TOP = np.array([215, 185, 110], np.float32)  # BGR near the surface
WATER_BOTTOM = np.array([120, 85, 35], np.float32)  # BGR in the depth


@dataclass
class Frame:
    """One rendered frame: ``bgr`` (H, W, 3) uint8 and its masks (H, W) uint8.

    ``instance_ids`` holds DAVIS object ids (0 = background, k = ``scene.objects[k-1]``);
    ``class_ids`` the class of each pixel (index into ``CLASSES``). Book: ch09.
    """

    bgr: np.ndarray
    instance_ids: np.ndarray
    class_ids: np.ndarray

    @property
    def rgb(self) -> np.ndarray:
        """The picture in RGB order (for matplotlib and PIL)."""
        return np.ascontiguousarray(self.bgr[..., ::-1])


def margin_of(scene: Scene) -> int:
    """Border (pixels) of the seabed picture around the frame, enough for the drift."""
    return max(16, int(0.12 * scene.width))


def _noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Smooth noise in [0, 1]: (h, w) float32, upsampled from a coarse grid."""
    coarse = rng.random((h // cell + 2, w // cell + 2)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def render_background(scene: Scene) -> np.ndarray:
    """The seabed picture of the whole video: (H + 2m, W + 2m, 3) uint8 BGR. Book: ch09."""
    rng = np.random.default_rng([scene.seed, 1])
    m = margin_of(scene)
    h, w = scene.height + 2 * m, scene.width + 2 * m
    rows = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]  # (h, 1, 1)
    img = (1 - rows) * WATER_TOP + rows * WATER_BOTTOM  # (h, 1, 3)
    img = np.repeat(img, w, axis=1) * (0.93 + 0.14 * _noise(rng, h, w, 48))[..., None]
    if scene.background != "open":
        horizon = rng.uniform(0.55, 0.7) * h
        xs = np.arange(w)
        line = horizon + 0.03 * h * np.sin(
            xs / w * rng.uniform(4, 9) + rng.uniform(0, 6)
        )
        below = np.arange(h)[:, None] >= line[None, :]  # (h, w)
        sand = (
            np.array([150, 190, 205], np.float32)
            * (0.75 + 0.4 * _noise(rng, h, w, 6))[..., None]
        )
        img[below] = sand[below]
        img = np.ascontiguousarray(img.clip(0, 255).astype(np.uint8))
        _decorate(img, rng, scene.background, horizon)
    return np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))


def _decorate(
    img: np.ndarray, rng: np.random.Generator, kind: str, horizon: float
) -> None:
    """Draw rocks (all seabeds) and coral (reefs) on ``img`` in place."""
    h, w = img.shape[:2]
    n_rocks = {"sand": 2, "rocks": 12, "reef": 4}[kind]
    for _ in range(n_rocks):
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(horizon, h))
        ax, ay = int(rng.uniform(0.03, 0.09) * w), int(rng.uniform(0.02, 0.06) * h)
        g = int(rng.uniform(80, 130))
        cv2.ellipse(img, (cx, cy), (ax, ay), 0, 180, 360, (g, g + 5, g + 10), -1)
    if kind != "reef":
        return
    corals = [(140, 50, 120), (70, 40, 170), (60, 120, 160), (160, 90, 170)]
    for _ in range(18):
        colour = corals[int(rng.integers(len(corals)))]
        x, y = rng.uniform(0, w), rng.uniform(horizon - 0.05 * h, h)
        if rng.random() < 0.5:  # brain coral: a round dome
            r = int(rng.uniform(0.02, 0.05) * w)
            cv2.ellipse(
                img, (int(x), int(y)), (r, int(0.7 * r)), 0, 180, 360, colour, -1
            )
        else:  # branching coral: a few thick lines fanning upwards
            for _ in range(5):
                a = rng.uniform(-2.4, -0.7)
                length = rng.uniform(0.03, 0.08) * h
                end = (int(x + length * np.cos(a)), int(y + length * np.sin(a)))
                cv2.line(img, (int(x), int(y)), end, colour, max(2, int(0.006 * w)))


def draw_objects(scene: Scene, t: float, img: np.ndarray | None = None) -> np.ndarray:
    """Draw every object of ``scene`` at frame ``t`` far to near; return the id map.

    When ``img`` (H, W, 3) is given the parts are drawn into it too (in place). The id
    map (H, W) uint8 gets ``obj_id`` where that object is the nearest one drawn.
    Book: ch09.
    """
    ids = np.zeros((scene.height, scene.width), np.uint8)
    offset = scene.camera_offset(t)
    water = tuple(float(c) for c in (WATER_TOP + WATER_BOTTOM) / 2)
    for obj in sorted(scene.objects, key=lambda o: -o.depth):
        for part in object_parts(obj, t, offset, water):
            pts = [part.points.reshape(-1, 1, 2)]
            if part.thickness < 0:
                cv2.fillPoly(ids, pts, int(obj.obj_id), lineType=cv2.LINE_8)
                if img is not None:
                    cv2.fillPoly(img, pts, part.colour, lineType=cv2.LINE_8)
            else:
                cv2.polylines(
                    ids, pts, False, int(obj.obj_id), part.thickness, cv2.LINE_8
                )
                if img is not None:
                    cv2.polylines(
                        img, pts, False, part.colour, part.thickness, cv2.LINE_8
                    )
    return ids


def object_mask(scene: Scene, obj_id: int, t: float) -> np.ndarray:
    """Where object ``obj_id`` would be drawn at frame ``t`` if it were alone: (H, W) bool."""
    alone = Scene(
        **{
            **scene.__dict__,
            "objects": [o for o in scene.objects if o.obj_id == obj_id],
        }
    )
    return draw_objects(alone, t) == obj_id


def crop_background(scene: Scene, background: np.ndarray, t: float) -> np.ndarray:
    """The part of the seabed picture the camera sees at frame ``t``: (H, W, 3) copy."""
    m = margin_of(scene)
    dx, dy = scene.camera_offset(t)
    x = int(round(np.clip(m + dx, 0, 2 * m)))
    y = int(round(np.clip(m + dy, 0, 2 * m)))
    return background[y : y + scene.height, x : x + scene.width].copy()


def apply_effects(
    scene: Scene, img: np.ndarray, t: float, noise: np.ndarray | None
) -> np.ndarray:
    """Caustics, colour cast, blur and noise on ``img`` (H, W, 3) uint8; returns a new one."""
    h, w = img.shape[:2]
    gh, gw = max(2, h // 8), max(2, w // 8)
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    waves = (
        np.sin(0.9 * xx + 0.5 * yy + 0.21 * t)
        + np.sin(-0.4 * xx + 1.1 * yy + 0.17 * t + 1.3)
        + np.sin(0.7 * xx - 0.8 * yy + 0.13 * t + 2.1)
    )  # (gh, gw)
    caustic = np.clip(np.abs(waves) < 0.6, 0, 1).astype(np.float32)
    caustic = cv2.resize(cv2.GaussianBlur(caustic, (3, 3), 0.8), (w, h))
    fade = np.linspace(1.0, 0.2, h, dtype=np.float32)[
        :, None
    ]  # (H, 1) stronger near the top
    gain = (1.0 + 0.18 * caustic * fade)[..., None] * np.asarray(
        WATER_CASTS[scene.cast], np.float32
    )
    out = img.astype(np.float32) * gain  # (H, W, 3)
    if scene.blur > 0.35:
        out = cv2.GaussianBlur(out, (0, 0), scene.blur)
    if noise is not None:
        out += noise
    return out.clip(0, 255).astype(np.uint8)


def noise_bank(scene: Scene, count: int = 4) -> list[np.ndarray]:
    """A few seeded noise pictures (H, W, 3) float32 reused cyclically by the frames."""
    rng = np.random.default_rng([scene.seed, 2])
    return [
        rng.normal(0, 3.0, (scene.height, scene.width, 3)).astype(np.float32)
        for _ in range(count)
    ]


def render_frame(
    scene: Scene,
    t: int,
    background: np.ndarray | None = None,
    noise: list[np.ndarray] | None = None,
    effects: bool = True,
) -> Frame:
    """Render frame ``t`` of ``scene`` with its instance and class masks.

    ``background`` (from :func:`render_background`) and ``noise`` (from
    :func:`noise_bank`) can be passed to avoid recomputing them for every frame.
    ``effects=False`` returns the clean composite (useful to check the masks).

    Book: ch09 "The Marine Video Kit dataset".
    """
    if background is None:
        background = render_background(scene)
    img = crop_background(scene, background, t)
    ids = draw_objects(scene, t, img)
    lut = np.zeros(256, np.uint8)
    for obj in scene.objects:
        lut[obj.obj_id] = obj.class_id
    if effects:
        noise = noise if noise is not None else noise_bank(scene)
        img = apply_effects(scene, img, t, noise[t % len(noise)] if noise else None)
    return Frame(bgr=img, instance_ids=ids, class_ids=lut[ids])
