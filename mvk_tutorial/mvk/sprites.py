"""How each MVK-mini animal is drawn: a list of filled polygons and lines per class.

Every sprite is described in body-length units with the head towards +x and y down.
:func:`object_parts` places it at the object's position, mirrors it when the animal swims
to the left, tilts it along its path and animates tails, flippers, wings or the bell.
The renderer draws the same parts into the picture and into the object-id map, so the
masks are exactly the drawn pixels.

Book: ch09 "The Marine Video Kit dataset" (section "MVK-mini, a procedural world").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvk_tutorial.mvk.scene import SceneObject


@dataclass(frozen=True)
class Part:
    """One primitive: ``points`` (N, 2) in pixels, a BGR colour, and ``thickness``.

    ``thickness < 0`` fills the polygon; ``thickness > 0`` draws an open polyline.
    """

    points: np.ndarray
    colour: tuple[int, int, int]
    thickness: int = -1


def ellipse(cx: float, cy: float, ax: float, ay: float, n: int = 24) -> np.ndarray:
    """Points of an ellipse in local (body-length) units: (n, 2)."""
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + ax * np.cos(a), cy + ay * np.sin(a)], axis=1)


def _poly(*pts: tuple[float, float]) -> np.ndarray:
    return np.asarray(pts, dtype=np.float64)


def _fish(body, tail_c, t_w, extras):
    return [(body, None), (t_w, tail_c)] + extras


def _local_parts(class_id: int, wiggle: float, pulse: float) -> list[tuple]:
    """Sprite of ``class_id`` as (points, BGR colour, thickness) in local units."""
    w = wiggle
    if class_id == 1:  # clownfish: orange, three white bands
        orange = (0, 110, 255)
        return [
            (_poly((-0.32, 0), (-0.5, -0.16 + w), (-0.5, 0.16 + w)), orange, -1),
            (ellipse(0, 0, 0.38, 0.17), orange, -1),
            (ellipse(0.17, 0, 0.045, 0.145), (255, 255, 255), -1),
            (ellipse(-0.06, 0, 0.05, 0.16), (255, 255, 255), -1),
            (ellipse(-0.28, 0, 0.03, 0.09), (255, 255, 255), -1),
            (ellipse(0.28, -0.04, 0.03, 0.03), (10, 10, 10), -1),
        ]
    if class_id == 2:  # blue tang: royal blue, black band, yellow tail
        return [
            (
                _poly((-0.34, 0), (-0.52, -0.17 + w), (-0.52, 0.17 + w)),
                (0, 215, 255),
                -1,
            ),
            (ellipse(0, 0, 0.4, 0.2), (200, 70, 15), -1),
            (ellipse(-0.02, -0.07, 0.26, 0.05), (60, 20, 5), -1),
            (ellipse(0.3, -0.05, 0.03, 0.03), (10, 10, 10), -1),
        ]
    if class_id == 3:  # butterflyfish: tall yellow disc, black eye band and spot
        return [
            (
                _poly((-0.28, 0), (-0.45, -0.13 + w), (-0.45, 0.13 + w)),
                (200, 245, 255),
                -1,
            ),
            (ellipse(0, 0, 0.33, 0.3), (20, 225, 250), -1),
            (ellipse(0.19, 0, 0.035, 0.22), (20, 20, 20), -1),
            (ellipse(-0.14, -0.12, 0.06, 0.06), (20, 20, 20), -1),
        ]
    if class_id == 4:  # sea turtle: brown shell with plates, green flippers and head
        fl = 0.08 * np.sin(pulse)
        flipper = (60, 120, 80)
        return [
            (_poly((0.15, -0.15), (0.05, -0.45 - fl), (0.25, -0.35 - fl)), flipper, -1),
            (_poly((0.15, 0.15), (0.05, 0.45 + fl), (0.25, 0.35 + fl)), flipper, -1),
            (_poly((-0.2, -0.15), (-0.38, -0.3 + fl), (-0.3, -0.1)), flipper, -1),
            (_poly((-0.2, 0.15), (-0.38, 0.3 - fl), (-0.3, 0.1)), flipper, -1),
            (ellipse(0.44, 0, 0.11, 0.08), (90, 150, 110), -1),
            (ellipse(0, 0, 0.36, 0.25), (40, 95, 130), -1),
            (ellipse(0.12, 0, 0.08, 0.08), (25, 60, 90), -1),
            (ellipse(-0.1, -0.1, 0.08, 0.06), (25, 60, 90), -1),
            (ellipse(-0.1, 0.1, 0.08, 0.06), (25, 60, 90), -1),
        ]
    if class_id == 5:  # reef shark: long grey body, white belly, fins, forked tail
        grey = (150, 145, 135)
        belly = ellipse(0.02, 0.0, 0.46, 0.09)
        belly = belly[belly[:, 1] >= 0]
        return [
            (
                _poly((-0.42, 0), (-0.62, -0.22 + w), (-0.54, 0 + w), (-0.6, 0.15 + w)),
                grey,
                -1,
            ),
            (ellipse(0, 0, 0.5, 0.1), grey, -1),
            (belly, (225, 225, 220), -1),
            (_poly((0.06, -0.07), (-0.12, -0.07), (-0.06, -0.25)), grey, -1),
            (_poly((0.16, 0.05), (0.0, 0.05), (0.03, 0.2)), grey, -1),
            (ellipse(0.38, -0.03, 0.015, 0.015), (10, 10, 10), -1),
        ]
    if class_id == 6:  # scuba diver: black suit, yellow tank, fins
        kick = 0.05 * np.sin(pulse)
        suit = (30, 30, 30)
        return [
            (
                _poly(
                    (-0.45, -0.02 + kick), (-0.62, -0.09 + kick), (-0.62, 0.03 + kick)
                ),
                (0, 180, 240),
                -1,
            ),
            (
                _poly((-0.45, 0.05 - kick), (-0.62, 0.0 - kick), (-0.62, 0.12 - kick)),
                (0, 180, 240),
                -1,
            ),
            (ellipse(-0.27, -0.01 + kick / 2, 0.2, 0.035), suit, -1),
            (ellipse(-0.27, 0.05 - kick / 2, 0.2, 0.035), suit, -1),
            (ellipse(0.05, 0.01, 0.26, 0.08), suit, -1),
            (ellipse(0.4, 0.07, 0.15, 0.03), suit, -1),
            (ellipse(0.03, -0.09, 0.2, 0.05), (0, 210, 250), -1),
            (ellipse(0.36, -0.01, 0.07, 0.07), (120, 160, 210), -1),
            (ellipse(0.39, -0.02, 0.04, 0.03), (60, 40, 20), -1),
        ]
    if (
        class_id == 7
    ):  # jellyfish: pink bell and tentacles (drawn upright, not mirrored)
        s = 1.0 + 0.12 * np.sin(pulse)
        bell = ellipse(0, 0, 0.3 * s, 0.26 / s)
        bell = bell[bell[:, 1] <= 0]
        parts = [(bell, (200, 110, 255), -1)]
        ys = np.linspace(0.0, 0.55, 8)
        for x in (-0.2, -0.07, 0.07, 0.2):
            xs = x * s + 0.04 * np.sin(ys * 9 + pulse + x * 10)
            parts.append((np.stack([xs, ys], 1), (225, 170, 255), 2))
        return parts
    if class_id == 8:  # spotted ray, seen from above: dark diamond, white spots, tail
        flap = 0.9 + 0.1 * np.sin(pulse)
        parts = [
            (_poly((-0.25, 0), (-0.85, 0.05 + w)), (45, 40, 35), 2),
            (
                _poly((0.35, 0), (0.0, -0.48 * flap), (-0.27, 0), (0.0, 0.48 * flap)),
                (55, 45, 35),
                -1,
            ),
        ]
        for sx, sy in (
            (0.1, -0.15),
            (0.0, 0.2),
            (-0.1, -0.05),
            (0.12, 0.08),
            (-0.05, 0.3),
        ):
            parts.append(
                (ellipse(sx, sy * flap, 0.03, 0.03, n=10), (235, 235, 235), -1)
            )
        return parts
    raise ValueError(f"class_id: expected 1..8, got {class_id}")


def object_parts(
    obj: SceneObject,
    t: float,
    offset: tuple[float, float],
    water_bgr: tuple[float, float, float],
) -> list[Part]:
    """The parts of ``obj`` at frame ``t`` in frame pixels (camera ``offset`` applied).

    Far objects are tinted towards ``water_bgr`` (haze). Book: ch09.
    """
    x, y = obj.position(t)
    x, y = x - offset[0], y - offset[1]
    direction = obj.heading(t) if obj.class_id != 7 else 1
    dx, dy = (
        obj.position(t + 1)[0] - obj.position(t)[0],
        obj.position(t + 1)[1] - obj.position(t)[1],
    )
    pitch = (
        0.0
        if obj.class_id == 7
        else float(np.clip(0.5 * np.arctan2(dy, abs(dx) + 1e-6), -0.35, 0.35))
    )
    theta = direction * pitch
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    pulse = obj.phase + 0.5 * t
    wiggle = 0.06 * np.sin(obj.phase + 0.8 * t)
    haze = 0.35 * obj.depth
    parts = []
    for pts, colour, thickness in _local_parts(obj.class_id, wiggle, pulse):
        local = pts * np.array([direction, 1.0]) * obj.length  # (N, 2) pixels, mirrored
        world = local @ rot.T + np.array([x, y])
        tinted = tuple(
            int(round((1 - haze) * c + haze * w)) for c, w in zip(colour, water_bgr)
        )
        if thickness > 0:
            thickness = max(1, int(round(thickness * obj.length / 60)))
        parts.append(Part(np.round(world).astype(np.int32), tinted, thickness))
    return parts
