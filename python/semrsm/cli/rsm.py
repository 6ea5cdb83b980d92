"""``semrsm rsm INPUT -o OUT.npz``: semantic (and spatio-semantic) RSMs of every layer in a file."""

from __future__ import annotations

import argparse

import numpy as np

from ..kernels import KERNELS, SIGMA_RULES
from ..plot import rsm_heatmap
from ..rsm import rsm
from ..semantic import LAYOUTS, MATCHER_ALIASES, MATCHERS, PARTIAL_WINDOWS, semantic_rsm
from ._common import FIGURE_SUFFIXES, UserError, layer_layout, output_path, read_layers, refuse_unused, run_layers

HELP = "semantic RSMs (and with --baseline the spatio-semantic ones) of the layers in an .npy/.npz file"


def _sigma(text: str):
    if text in SIGMA_RULES:
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sigma must be a positive number or one of {', '.join(SIGMA_RULES)}; "
                                         f"got {text!r}") from None


def _names(text: str) -> list:
    return [name.strip() for name in text.split(",") if name.strip()]


def add_arguments(parser) -> None:
    parser.add_argument("input", metavar="INPUT", help=".npy (one layer) or .npz (one array per layer)")
    parser.add_argument("-o", "--output", metavar="OUT.npz", required=True,
                        help="where to write the RSMs, keys LAYER.semantic.KERNEL (and LAYER.baseline.KERNEL)")
    parser.add_argument("--kernel", type=_names, default=["cosine"],
                        help="inner, cosine, rbf, or several separated by commas (default cosine)")
    parser.add_argument("--matcher", choices=MATCHERS + tuple(MATCHER_ALIASES), default="exact",
                        help="default exact")
    parser.add_argument("--window", type=int, default=None, help="window of batch_optimal (default 128)")
    parser.add_argument("--topk", type=int, default=None, help="K of topk_greedy (default 128)")
    parser.add_argument("--layout", choices=LAYOUTS, default=None,
                        help="NCHW for 4-D arrays, NTD for 3-D ones unless given; 2-D (N, D) layers have one "
                             "position")
    parser.add_argument("--sigma", type=_sigma, default=None,
                        help="RBF bandwidth: a number, or the rule median (default) or authors (Wald et al.'s code)")
    parser.add_argument("--partial-window", choices=PARTIAL_WINDOWS, default=None,
                        help="batch_optimal: where the short window goes (default largest, as the authors' code)")
    parser.add_argument("--baseline", action="store_true", help="also the spatio-semantic RSMs")
    parser.add_argument("--threads", type=int, default=None, help="default all cores")
    parser.add_argument("--plot", metavar="OUT.png", help="draw the RSMs (first kernel) into this image")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_options(args) -> None:
    """Refuse what the chosen matcher and kernels would ignore, and unknown kernels, before any work."""
    if not args.kernel:
        raise UserError("--kernel needs at least one kernel name")
    unknown = [k for k in args.kernel if k not in KERNELS]
    if unknown:
        raise UserError(f"unknown kernel {unknown[0]!r}; expected one of {', '.join(map(repr, KERNELS))}")
    matcher = MATCHER_ALIASES.get(args.matcher, args.matcher)
    refuse_unused(args, [
        ("--window", args.window is not None, matcher == "batch_optimal", "applies to --matcher batch_optimal only"),
        ("--partial-window", args.partial_window is not None, matcher == "batch_optimal",
         "applies to --matcher batch_optimal only"),
        ("--topk", args.topk is not None, matcher == "topk_greedy", "applies to --matcher topk_greedy only"),
        ("--sigma", args.sigma is not None, "rbf" in args.kernel, "applies to the rbf kernel only"),
    ])


def run(args) -> int:
    check_options(args)
    output = output_path(args.output, "-o", (".npz",))
    plot = output_path(args.plot, "--plot", FIGURE_SUFFIXES)
    layers = read_layers(args.input)
    options = dict(kernel=args.kernel, matcher=args.matcher, sigma=args.sigma, threads=args.threads,
                   progress=False if args.no_progress else None)
    if args.window is not None:
        options["window"] = args.window
    if args.topk is not None:
        options["topk"] = args.topk
    if args.partial_window is not None:
        options["partial_window"] = args.partial_window

    def layer_rsms(name, x):
        semantic = semantic_rsm(x, layout=layer_layout(x, args.layout), **options)
        return semantic, (rsm(x, kernel=args.kernel, sigma=args.sigma) if args.baseline else {})

    done = run_layers(layers, layer_rsms, "rsm")
    results, panels = {}, {}
    for name, (semantic, baseline) in done.items():
        for kernel in args.kernel:
            results[f"{name}.semantic.{kernel}"] = semantic[kernel]
            if args.baseline:
                results[f"{name}.baseline.{kernel}"] = baseline[kernel]
        panels[f"{name}: semantic {args.kernel[0]}"] = semantic[args.kernel[0]]
        if args.baseline:
            panels[f"{name}: spatio-semantic {args.kernel[0]}"] = baseline[args.kernel[0]]
    np.savez(output, **results)
    print(f"wrote {len(results)} RSM(s) of {len(done)} layer(s) to {output}")
    if plot:
        rsm_heatmap(panels, columns=2 if args.baseline else 4, path=plot)
        print(f"wrote {plot}")
    failed = [name for name in layers if name not in done]
    if failed:
        print(f"{len(failed)} layer(s) failed and are not in the output: {', '.join(failed)}")
        return 1
    return 0
