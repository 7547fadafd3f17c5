"""Sub-commands of ``mvk vos`` (see ``mvk_tutorial.vos.cli``)."""

from __future__ import annotations


def register(groups) -> None:
    """Add this module's sub-commands to the ``mvk`` groups."""
