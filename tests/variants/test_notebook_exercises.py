"""ch03 never imports or prints the package functions its exercises ask for."""

import re
from pathlib import Path

import nbformat

NB = Path(__file__).resolve().parents[2] / "book" / "ch03_variants.ipynb"
ASKED = ("window_partition", "shift_mask", "bilinear_sample")


def test_exercise_functions_are_only_reached_through_checks():
    nb = nbformat.read(NB, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ASKED:
        uses = re.findall(rf"[\w.]*\b{name}\b", code)
        allowed = {f"my_{name}", f"checks.{name}"}
        assert set(uses) <= allowed, f"ch03 uses {set(uses) - allowed} (exercise {name})"
        assert not re.search(rf"import[^\n]*\b{name}\b", code)
    for mod in ("deform_conv", "swin"):  # no star imports or module handles
        assert not re.search(rf"import mvk_tutorial\.attention\.{mod}\b", code)
        assert f"attention.{mod} import *" not in code
