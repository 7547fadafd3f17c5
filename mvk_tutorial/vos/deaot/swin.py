"""Moved to :mod:`mvk_tutorial.attention.swin` (one Swin for the package); kept as a re-export."""
from mvk_tutorial.attention.swin import *  # noqa: F401,F403  Book: ch03, section "Swin: shifted windows".
