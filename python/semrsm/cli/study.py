"""``semrsm study INPUT.npz``: the matchers against the Hungarian optimum on the layers of a file."""

from __future__ import annotations

import argparse
import dataclasses
import os

from ..analysis import Table, matcher_study, study_figure
from ..analysis.study import DEFAULT_MATCHERS, DEFAULT_WINDOWS
from ..semantic import LAYOUTS, MATCHER_ALIASES, MATCHERS
from ._common import FIGURE_SUFFIXES, UserError, layer_layout, output_path, read_layers, run_layers

HELP = ("quality (objective / optimum) and speed of the semantic matchers against the Hungarian baseline, "
        "on a sample of pairs of every layer in an .npy/.npz file; prints a table, writes a figure and CSV")

def _names(text: str) -> list:
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in MATCHERS and name not in MATCHER_ALIASES:
            raise argparse.ArgumentTypeError(f"unknown matcher {name!r}; expected some of "
                                             f"{', '.join(MATCHERS)} separated by commas")
    return names


def _windows(text: str) -> list:
    try:
        windows = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--windows takes integers separated by commas, e.g. 32,64,128; "
                                         f"got {text!r}") from None
    if not windows or min(windows) < 1:
        raise argparse.ArgumentTypeError(f"--windows needs positive integers; got {text!r}")
    return windows


def _pairs(text: str):
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--pairs takes a positive integer or 'all'; got {text!r}")
    return value


def add_arguments(parser) -> None:
    parser.add_argument("input", metavar="INPUT", help=".npy (one layer) or .npz (one array per layer)")
    parser.add_argument("--matchers", type=_names, default=list(DEFAULT_MATCHERS),
                        help=f"approximations to study, separated by commas (default {','.join(DEFAULT_MATCHERS)}; "
                             f"the exact matcher and the Hungarian baseline always run)")
    parser.add_argument("--windows", type=_windows, default=list(DEFAULT_WINDOWS),
                        help="windows of batch_optimal and K of topk_greedy (default 32,64,128)")
    parser.add_argument("--pairs", type=_pairs, default=200,
                        help="pairs sampled per layer, or 'all' (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample of pairs (default 0)")
    parser.add_argument("--layout", choices=LAYOUTS, default=None,
                        help="NCHW for 4-D arrays, NTD for 3-D ones unless given; 2-D (N, D) layers have one "
                             "position")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the Hungarian baseline (slow at large S); quality is then against the "
                             "exact matcher")
    parser.add_argument("--repeats", type=int, default=3, help="engine timings: median of this many runs (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="engine threads (default all cores)")
    parser.add_argument("-o", "--output", metavar="STUDY.png", help="write the figure there (.png, .pdf, .svg ...)")
    parser.add_argument("--csv", metavar="STUDY.csv", help="write the table there")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args) -> int:
    figure = output_path(args.output, "-o", FIGURE_SUFFIXES)
    table_path = output_path(args.csv, "--csv", (".csv",))
    if figure and table_path and os.path.abspath(figure) == os.path.abspath(table_path):
        raise UserError("-o and --csv name the same file")
    if args.repeats < 1:
        raise UserError(f"--repeats must be at least 1; got {args.repeats}")
    layers = read_layers(args.input)
    numbers = {name: number for number, name in enumerate(layers, start=1)}

    def study(name, x):
        layout = layer_layout(x, args.layout)
        print(f"[{numbers[name]}/{len(layers)}] layer {name!r}: shape {x.shape}", flush=True)
        table = matcher_study({name: x}, matchers=args.matchers, windows=args.windows, pairs=args.pairs,
                              seed=args.seed, layout=layout, baseline=not args.no_baseline, threads=args.threads,
                              repeats=args.repeats, progress=False if args.no_progress else None)
        print(dataclasses.replace(table, title="").format() + "\n", flush=True)
        return table

    done = run_layers(layers, study, "study")
    table = Table.concat(list(done.values()))
    written = []
    if table_path:
        written.append(table.to_csv(table_path))
    if figure:
        study_figure(table, path=figure, title=f"Matchers on {os.path.basename(args.input)}")
        written.append(figure)
    print(table.title)
    print("wrote " + ", ".join(written) if written else "wrote no files (pass -o STUDY.png and/or --csv STUDY.csv)")
    failed = [name for name in layers if name not in done]
    if failed:
        print(f"{len(failed)} layer(s) failed and are not in the table: {', '.join(failed)}")
        return 1
    return 0
