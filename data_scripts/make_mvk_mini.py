#!/usr/bin/env python
"""Generate an MVK-mini collection (same as ``mvk data synth``).

    python data_scripts/make_mvk_mini.py --out DIR [--sites N] [--videos-per-site M] [--seed S]
        [--preset book|test] [--frames MIN MAX] [--size H W] [--select-every K]

The files it writes are listed in the docstring of ``mvk_tutorial.mvk.synthetic``.
Book: ch09 "The Marine Video Kit dataset".
"""

import sys

from mvk_tutorial.cli import main

if __name__ == "__main__":
    sys.exit(main(["data", "synth", *sys.argv[1:]]))
