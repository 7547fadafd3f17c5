"""A frame scrubber over predicted masks that works in the static (offline) book.

The widget is a ``Play`` button and a slider linked *in the browser* (``jslink``) to a
``Stack`` of pre-rendered JPEG frames, so moving the slider needs no Python kernel: the
jupyter-widgets HTML manager of the built site replays the saved widget state. Each
frame shows the panels side by side (e.g. truth | prediction) with the objects in
their DAVIS colours.

Book: ch08, section "Scrubbing through a video".
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from mvk_tutorial.vos.data import DAVIS_PALETTE


def overlay_mask(frame: np.ndarray, mask: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """(H, W, 3) uint8 RGB frame and (H, W) ids -> the frame with each object tinted in
    its DAVIS colour (background untouched). Book: ch08, section "Scrubbing through a video"."""
    if frame.shape[:2] != mask.shape:
        raise ValueError(
            f"mask: expected shape {frame.shape[:2]} (the frame's), got {mask.shape}"
        )
    colours = DAVIS_PALETTE[mask].astype(np.float32)  # (H, W, 3)
    fg = (mask > 0)[..., None]
    return np.where(fg, (1 - alpha) * frame + alpha * colours, frame).astype(np.uint8)


def scrubber_frames(
    frames: Sequence[np.ndarray],
    panels: dict[str, Sequence[np.ndarray]],
    width: int = 224,
    every: int = 1,
) -> list[np.ndarray]:
    """The pictures the scrubber shows: for every ``every``-th frame, the panels (name ->
    masks, one per frame) side by side, each resized to ``width`` pixels and titled.

    Returns (h, width * len(panels), 3) uint8 RGB arrays. Book: ch08, section "Scrubbing through a video".
    """
    if not panels:
        raise ValueError("panels: expected at least one name -> masks entry")
    for name, masks in panels.items():
        if len(masks) != len(frames):
            raise ValueError(
                f"panels[{name!r}]: expected {len(frames)} masks (one per frame), got {len(masks)}"
            )
    if width < 16 or every < 1:
        raise ValueError(f"width >= 16 and every >= 1 expected, got {width}, {every}")
    out = []
    for t in range(0, len(frames), every):
        row = []
        for name, masks in panels.items():
            img = overlay_mask(frames[t], np.asarray(masks[t]))
            h = round(img.shape[0] * width / img.shape[1])
            img = cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA)
            cv2.putText(img, f"{name} t={t}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        (255, 255, 255), 1, cv2.LINE_AA)
            row.append(img)
        out.append(np.concatenate(row, axis=1))  # (h, width * panels, 3)
    return out


def frame_scrubber(
    frames: Sequence[np.ndarray],
    panels: dict[str, Sequence[np.ndarray]],
    width: int = 224,
    every: int = 1,
    quality: int = 80,
):
    """An ipywidgets scrubber (play button + slider) over ``scrubber_frames``.

    The slider is linked to the ``Stack``'s ``selected_index`` with ``jslink``, so the
    widget also works in the static HTML page, with no kernel. Returns the ``VBox`` (its ``links``: the two ``jslink`` links).

    Book: ch08, section "Scrubbing through a video".
    """
    import ipywidgets as widgets

    pictures = scrubber_frames(frames, panels, width, every)
    images = []
    for pic in pictures:
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(pic, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        if not ok:
            raise RuntimeError("frame_scrubber: JPEG encoding failed")
        images.append(widgets.Image(value=buf.tobytes(), format="jpeg"))
    stack = widgets.Stack(images, selected_index=0)
    last = len(images) - 1
    slider = widgets.IntSlider(value=0, min=0, max=last, description="frame")
    play = widgets.Play(value=0, min=0, max=last, interval=150, description="play")
    links = (
        widgets.jslink((play, "value"), (slider, "value")),
        widgets.jslink((slider, "value"), (stack, "selected_index")),
    )
    box = widgets.VBox([widgets.HBox([play, slider]), stack])
    box.links = links  # kept on the box (and in the saved widget state)
    return box
