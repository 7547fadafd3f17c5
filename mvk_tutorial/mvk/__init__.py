"""Part III: the Marine Video Kit layout and the synthetic MVK-mini world (chapter 9)."""
