"""The ``semrsm`` console command. Each subcommand lives in ``semrsm.commands.<name>`` and defines
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

#: Subcommand name -> module under semrsm.commands.
COMMANDS = {
    "bench-lap": "bench_lap",
    "demo": "demo",
    "rsm": "rsm",
    "cka": "cka",
    "compare-kinds": "compare_kinds",
}


class UserError(Exception):
    """A mistake in the command line or its files: reported in one line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="semrsm",
        description="Semantic representational similarity matrices, batched linear assignment and CKA.")
    parser.add_argument("--version", action="version", version=f"semrsm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"semrsm.commands.{module_name}")
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
