"""Old import name, kept so that existing notebooks keep running.

This module used to hold a transcription of the official toolkit; it was removed (the
project's code is its own). The names below are now the plain per-frame loop of
:mod:`mvk_tutorial.vos.plain_loop`, which is **not** the official code; parity with the
official toolkit is proven by the fixtures in ``tests/fixtures/davis/`` that were made
by running it. New code should import :mod:`mvk_tutorial.vos.plain_loop`.

Book: ch07, section "From frames to J&F".
"""

from mvk_tutorial.vos.plain_loop import evaluate, evaluate_sequence

__all__ = ["evaluate", "evaluate_sequence"]
