"""The ``semrsm`` console command. Each subcommand is a module of this package that defines ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import sys

from .._core import __version__
from . import bench_lap, cka, compare_kinds, demo, rsm, store, study
from ._common import UserError

__all__ = ["COMMANDS", "UserError", "build_parser", "main"]

#: Subcommand name -> its module.
COMMANDS = {
    "bench-lap": bench_lap,
    "demo": demo,
    "rsm": rsm,
    "cka": cka,
    "compare-kinds": compare_kinds,
    "study": study,
    "store": store,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="semrsm",
        description="Semantic representational similarity matrices, batched linear assignment and CKA.")
    parser.add_argument("--version", action="version", version=f"semrsm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("semrsm: interrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, TypeError, OSError) as exc:
        print(f"semrsm {args.command}: error: {exc}", file=sys.stderr)
        return 2
