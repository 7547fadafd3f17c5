"""Sub-commands of ``mvk vos``: evaluation (J&F, ch07) and DeAOT segmentation (ch08).

Book: ch08, section "The DeAOT family" (also ch07).
"""

from __future__ import annotations

from mvk_tutorial.vos import cli_eval, cli_segment


def register(groups) -> None:
    """Add ``mvk vos eval`` and ``mvk vos segment`` (see ``mvk_tutorial.cli``)."""
    cli_eval.register(groups)
    cli_segment.register(groups)
