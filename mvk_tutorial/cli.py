"""The ``mvk`` command: one entry point, sub-commands grouped by part of the book.

    mvk data synth|stats ...        MVK-mini and MVK folders (ch09)
    mvk train vit|clip|...          train the tiny models the package ships
    mvk vos eval|segment ...        video object segmentation (ch07, ch08)
    mvk kis embed|run ...           known-item search (ch10)
    mvk exercises build OUT_DIR     student copies of the exercise notebooks (ch00)
    mvk book execute NOTEBOOK...    re-execute chapters in place (ch00)

Each part registers its own sub-commands in a ``register(groups)`` function of its
``cli`` module, so this file never needs to know them; handlers import their heavy
dependencies lazily, so ``mvk --help`` is fast.

Book: ch00 "How to use this book".
"""

from __future__ import annotations

import argparse
import importlib
import sys

GROUPS = {
    "data": "make and inspect MVK / MVK-mini data (ch09)",
    "train": "train the tiny models shipped with the package",
    "vos": "video object segmentation: evaluate and segment (ch07, ch08)",
    "kis": "known-item search on MVK (ch10)",
    "exercises": "student copies of the exercise notebooks (ch00)",
    "book": "execute the chapter notebooks in place (ch00)",
}

# Modules with a ``register(groups: dict[str, argparse._SubParsersAction])`` function.
COMMAND_MODULES = (
    "mvk_tutorial.cli_exercises",
    "mvk_tutorial.notebook_exec",
    "mvk_tutorial.mvk.cli",
    "mvk_tutorial.attention.cli",
    "mvk_tutorial.attention.cli_variants",
    "mvk_tutorial.attention.cli_avit",
    "mvk_tutorial.attention.cli_san",
    "mvk_tutorial.vos.cli",
    "mvk_tutorial.vos.cli_train",
    "mvk_tutorial.retrieval.cli",
    "mvk_tutorial.retrieval.cli_index",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the full ``mvk`` argument parser."""
    from mvk_tutorial import __version__

    parser = argparse.ArgumentParser(prog="mvk", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"mvk {__version__}")
    top = parser.add_subparsers(dest="group", metavar="GROUP")
    top.required = True
    groups = {}
    for name, help_text in GROUPS.items():
        p = top.add_parser(name, help=help_text, description=help_text)
        sub = p.add_subparsers(dest="command", metavar="COMMAND")
        sub.required = True
        groups[name] = sub
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(groups)
    return parser


EXIT_BAD_INPUT = 2  # a file or argument is wrong (the message says which)
EXIT_FAILED = 1  # the command could not finish (corrupt data, a runtime fault)
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return text or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mvk`` console script; returns the exit status.

    Expected failures end with one line ``mvk GROUP COMMAND: error: ...`` naming the
    file and what was expected, and no traceback: exit status 2 for bad input (missing,
    unreadable, unwritable or malformed files and arguments), 1 for a command that
    failed while running (``RuntimeError``, e.g. a corrupt shard or checkpoint), 130
    for Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    where = f"mvk {args.group} {args.command}"
    try:
        status = args.func(args)
    except (ValueError, OSError) as exc:  # FileNotFound, Permission, FileExists, ...
        print(f"{where}: error: {_describe(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeError as exc:
        print(f"{where}: error: {_describe(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(
            f"{where}: interrupted; finished outputs are kept (rerun to resume)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
