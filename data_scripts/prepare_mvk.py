#!/usr/bin/env python
"""Build the MVK layout (videos, selected frames, thumbnails, metadata) from raw videos.

    python data_scripts/prepare_mvk.py RAW OUT [--site Lanai_Jul2022] [--every-s 1.0]
        [--scene-threshold 0.35] [--camera "GoPro HERO10"]

RAW holds one folder per dive site named <Site>_<MonYYYY>, or (with --site) the videos
of one site. Finished videos are skipped, so an interrupted run can simply be restarted.
Book: ch09 "The Marine Video Kit dataset" (section "With the real data").
"""

import argparse
import sys

from mvk_tutorial.mvk.prepare import prepare_mvk


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("raw")
    p.add_argument("out")
    p.add_argument(
        "--site", help="site folder name when RAW holds the videos of one site"
    )
    p.add_argument(
        "--every-s", type=float, default=1.0, help="fixed rate (0 to disable)"
    )
    p.add_argument(
        "--scene-threshold",
        type=float,
        default=0.35,
        help="histogram distance that marks a scene change (0 to disable)",
    )
    p.add_argument("--camera", help="camera model written into the metadata")
    a = p.parse_args(argv)
    try:
        metas = prepare_mvk(
            a.raw,
            a.out,
            site=a.site,
            every_s=a.every_s or None,
            scene_threshold=a.scene_threshold or None,
            camera=a.camera,
        )
    except (ValueError, OSError, RuntimeError) as exc:  # names the file and the problem
        print(f"prepare_mvk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("prepare_mvk: interrupted; rerun to resume (finished videos are kept)",
              file=sys.stderr)
        return 130
    print(f"{len(metas)} videos ready under {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
