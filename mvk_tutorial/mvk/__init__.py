"""Part III: the Marine Video Kit layout and the synthetic MVK-mini world (chapter 9).

- ``mvk_tutorial.mvk.synthetic``: ``ensure_mvk_mini(preset)`` and the MVK-mini files
  (its docstring lists every file), readers ``load_captions``, ``load_frame_labels``,
  ``load_objects``, ``read_mask`` and ``CLASSES``.
- ``mvk_tutorial.mvk.scene`` / ``sprites`` / ``render`` / ``captions`` / ``writer``: the
  generator (scene description, drawing, captions, files).
- ``mvk_tutorial.mvk.layout``: readers of the real MVK layout (also work on MVK-mini).
- ``mvk_tutorial.mvk.frames``: frame selection and thumbnails.
"""
