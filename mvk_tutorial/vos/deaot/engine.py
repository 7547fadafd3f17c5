"""Moved: the inference engine lives in ``mvk_tutorial.vos.inference.engine``.

This module keeps the old import path working (``DeAOTEngine``, ``soft_aggregation``).
Book: ch08, section "The engine: memory over time".
"""

from mvk_tutorial.vos.inference.engine import DeAOTEngine, soft_aggregation

__all__ = ["DeAOTEngine", "soft_aggregation"]
