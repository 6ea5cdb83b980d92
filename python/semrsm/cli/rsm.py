"""``semrsm rsm INPUT -o OUT.npz``: semantic (and spatio-semantic) RSMs of every layer in a file; with
``--store OUT.zarr``, one layer as a large job (:func:`semrsm.run_job`): tiles in this process, on a
Dask cluster (``--scheduler``) or on local worker processes (``--local-workers``), resumable."""

from __future__ import annotations

import argparse

import numpy as np

from ..jobs import open_rsm, run_job
from ..jobs._input import open_features
from ..kernels import KERNELS, SIGMA_RULES
from ..plot import rsm_heatmap
from ..rsm import rsm
from ..semantic import LAYOUTS, MATCHER_ALIASES, MATCHERS, PARTIAL_WINDOWS, semantic_rsm
from ._common import FIGURE_SUFFIXES, UserError, layer_layout, output_path, read_layers, refuse_unused, run_layers

HELP = ("semantic RSMs (and with --baseline the spatio-semantic ones) of the layers in an .npy/.npz file; with "
        "--store, one layer as a resumable tiled job")


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
    parser.add_argument("input", metavar="INPUT", help=".npy (one layer) or .npz (one array per layer); with "
                                                       "--store: .npy, FILE.npz:NAME or a Zarr array")
    parser.add_argument("-o", "--output", metavar="OUT.npz",
                        help="where to write the RSMs, keys LAYER.semantic.KERNEL (and LAYER.baseline.KERNEL); "
                             "with --store, optional: the kernels exported once the job is done")
    parser.add_argument("--kernel", type=_names, default=None,
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
    job = parser.add_argument_group("large jobs")
    job.add_argument("--store", metavar="OUT.zarr", help="run one layer as a tiled job into this Zarr store "
                                                       "(semrsm store info/export read it)")
    job.add_argument("--tile", type=int, default=None, help="samples per side of a tile (default 256)")
    where = job.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler (tcp://HOST:8786) to run tiles on")
    where.add_argument("--local-workers", type=int, metavar="K", help="K local Dask worker processes")
    job.add_argument("--resume", action="store_true", help="continue the job already in --store")
    job.add_argument("--bound", action="store_true", help="also store the upper bound of each objective")


def check_options(args) -> None:
    """Refuse what the chosen matcher and kernels would ignore, and unknown kernels, before any work."""
    if args.kernel is None:
        args.kernel = ["cosine"]
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
    store = args.store is not None
    refuse_unused(args, [(option, given, store, "applies to jobs with --store only") for option, given in (
        ("--tile", args.tile is not None), ("--scheduler", args.scheduler is not None),
        ("--local-workers", args.local_workers is not None), ("--resume", args.resume), ("--bound", args.bound))])
    refuse_unused(args, [(option, given, not store, "does not apply to jobs with --store") for option, given in (
        ("--baseline", args.baseline), ("--plot", args.plot is not None))])
    if not store and args.output is None:
        raise UserError("give -o OUT.npz (or --store OUT.zarr for a large job)")


def run_store(args) -> int:
    """One layer as a tiled job into ``--store``, and with ``-o`` its kernels exported."""
    output = output_path(args.output, "-o", (".npz",))
    x = open_features(args.input, "INPUT")
    options = {key: getattr(args, key) for key in ("window", "topk", "partial_window") if getattr(args, key) is not None}
    report = run_job(x, args.store, tile=256 if args.tile is None else args.tile, matcher=args.matcher,
                     layout=layer_layout(x, args.layout), bound=args.bound, client=args.scheduler,
                     local_workers=args.local_workers, resume=args.resume, threads=args.threads,
                     progress=not args.no_progress, **options)
    print(f"{report.path}: {len(report.computed)} of {report.tiles} tiles computed in {report.seconds:.1f} s")
    if output:
        rsms = open_rsm(report.path).kernel(args.kernel, sigma=args.sigma)
        np.savez(output, **{f"semantic.{kernel}": rsms[kernel] for kernel in args.kernel})
        print(f"wrote {len(args.kernel)} RSM(s) to {output}")
    return 0


def run(args) -> int:
    check_options(args)
    if args.store is not None:
        return run_store(args)
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
