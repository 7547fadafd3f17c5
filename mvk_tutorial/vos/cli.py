"""Sub-commands of the ``mvk`` command for ``mvk_tutorial.vos``.

Book: ch00 "How to use this book" (the ``mvk`` command).
"""

from __future__ import annotations


def register(groups) -> None:
    """Add this part's sub-commands to the ``mvk`` groups (see ``mvk_tutorial.cli``)."""
