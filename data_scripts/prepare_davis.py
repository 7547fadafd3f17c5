#!/usr/bin/env python
"""Check a downloaded DAVIS 2017 or YouTube-VOS folder and explain what is missing.

    python data_scripts/prepare_davis.py DAVIS_ROOT                 # DAVIS 2017, 480p
    python data_scripts/prepare_davis.py YTVOS_ROOT --youtube-vos   # <root>/valid/...

DAVIS 2017 (trainval, 480p) is at https://davischallenge.org/davis2017/code.html and
YouTube-VOS at https://youtube-vos.org/dataset/ (registration needed). Download them
yourself, or with ``mvk_tutorial.mvk.download.download(url, dest, sha256)`` when you
have a link and its checksum, unzip, then run this script. Exit status 0: usable.
Book: ch07 "Video object segmentation: task, data and metrics", ch09.
"""

import argparse
import sys

from mvk_tutorial.mvk.prepare import check_davis, check_youtube_vos


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root")
    p.add_argument(
        "--youtube-vos", action="store_true", help="check a YouTube-VOS folder"
    )
    p.add_argument(
        "--split", default="valid", help="YouTube-VOS split folder (default valid)"
    )
    p.add_argument("--resolution", default="480p", help="DAVIS resolution folder")
    a = p.parse_args(argv)
    if a.youtube_vos:
        problems = check_youtube_vos(a.root, a.split)
    else:
        problems = check_davis(a.root, a.resolution)
    for line in problems:
        print(f"MISSING/BAD {line}")
    print("looks usable" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
