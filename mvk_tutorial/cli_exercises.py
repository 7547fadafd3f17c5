"""``mvk exercises build|grade|key``: the parsers only.

The work lives in ``mvk_tutorial.exercises`` (student copies) and ``mvk_tutorial.grading``
(grading and the instructor key). Both import ``nbformat``, whose schema validator
(through ``jsonschema``'s format checkers) takes about a second to import, so they are
imported when a command runs, not when ``mvk --help`` builds the parser.

Book: ch00, section "Grading a class".
"""

from __future__ import annotations


def _build(args) -> int:
    from mvk_tutorial.exercises import _cmd_build

    return _cmd_build(args)


def _grade(args) -> int:
    from mvk_tutorial.grading import _cmd_grade

    return _cmd_grade(args)


def _key(args) -> int:
    from mvk_tutorial.grading import _cmd_key

    return _cmd_key(args)


def register(groups) -> None:
    """Add ``mvk exercises build``, ``grade`` and ``key`` (see ``mvk_tutorial.cli``).

    Book: ch00, section "Grading a class".
    """
    p = groups["exercises"].add_parser(
        "build", help="write student copies of the exercise notebooks"
    )
    p.add_argument("out_dir", help="folder for the student notebooks")
    p.add_argument("--book", default="book", help="folder of the solution notebooks")
    p.add_argument(
        "--nbgrader", action="store_true",
        help="write nbgrader source notebooks (answers kept between the markers), one "
        "assignment folder per notebook: OUT_DIR can be a course's source/ folder",
    )
    p.set_defaults(func=_build)
    g = groups["exercises"].add_parser(
        "grade", help="execute submitted notebooks and write a grade report (CSV)"
    )
    g.add_argument("submissions", help="folder with one sub-folder of notebooks per student")
    g.add_argument("--out", required=True, help="report CSV (a *_summary.csv is written beside it)")
    g.add_argument("--book", default="book", help="folder of the solution notebooks")
    g.add_argument("--timeout", type=float, default=120, help="seconds allowed per cell")
    g.add_argument("--kernel", default="python3", help="Jupyter kernel to run them with")
    g.add_argument("--notebook", action="append", metavar="NAME.ipynb",
                   help="grade only this notebook (repeatable; default: every exercise "
                   "notebook of the book that some student submitted)")
    g.set_defaults(func=_grade)
    k = groups["exercises"].add_parser(
        "key", help="write the instructor key (all exercise solutions) as Markdown"
    )
    k.add_argument("out_dir", help="folder for the key, one .md per chapter")
    k.add_argument("--book", default="book", help="folder of the solution notebooks")
    k.set_defaults(func=_key)
