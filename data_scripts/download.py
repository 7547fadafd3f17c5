#!/usr/bin/env python
"""Download a file with resume and a sha256 check.

    python data_scripts/download.py URL DEST [--sha256 HEX]

Interrupted downloads resume from DEST.part; DEST appears only when the checksum
matches. Book: ch09 "The Marine Video Kit dataset" (section "With the real data").
"""

import argparse
import sys
import urllib.error

from mvk_tutorial.mvk.download import download


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("dest")
    p.add_argument("--sha256", help="expected hex digest")
    a = p.parse_args(argv)
    try:
        path = download(a.url, a.dest, a.sha256)
    except (ValueError, FileNotFoundError, urllib.error.URLError) as exc:
        print(f"download: error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
