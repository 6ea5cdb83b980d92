"""``semrsm rsm INPUT -o OUT.npz``: semantic (and spatio-semantic) RSMs of every layer in a file."""

from __future__ import annotations


import numpy as np

from ..plot import rsm_heatmap
from ..rsm import rsm
from ..semantic import LAYOUTS, MATCHER_ALIASES, MATCHERS, semantic_rsm
from ._common import UserError, read_layers

HELP = "semantic RSMs (and with --baseline the spatio-semantic ones) of the layers in an .npy/.npz file"


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
    parser.add_argument("--window", type=int, default=128, help="window of batch_optimal (default 128)")
    parser.add_argument("--topk", type=int, default=None, help="K of topk_greedy (default: --window)")
    parser.add_argument("--layout", choices=LAYOUTS, default=None,
                        help="NCHW for 4-D arrays, NTD for 3-D ones unless given")
    parser.add_argument("--sigma", type=float, default=None, help="RBF bandwidth (default: median rule)")
    parser.add_argument("--baseline", action="store_true", help="also the spatio-semantic RSMs")
    parser.add_argument("--threads", type=int, default=None, help="default all cores")
    parser.add_argument("--plot", metavar="OUT.png", help="draw the RSMs (first kernel) into this image")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    if not args.kernel:
        raise UserError("--kernel needs at least one kernel name")
    layers = read_layers(args.input)
    results, panels = {}, {}
    for name, x in layers.items():
        layout = args.layout or ("NCHW" if x.ndim == 4 else "NTD")
        try:
            semantic = semantic_rsm(x, kernel=args.kernel, matcher=args.matcher, window=args.window,
                                    topk=args.topk, layout=layout, sigma=args.sigma, threads=args.threads,
                                    progress=False if args.no_progress else None)
            baseline = rsm(x, kernel=args.kernel, sigma=args.sigma) if args.baseline else {}
        except (ValueError, TypeError) as exc:
            raise UserError(f"layer {name!r}: {exc}") from None
        for kernel in args.kernel:
            results[f"{name}.semantic.{kernel}"] = semantic[kernel]
            if args.baseline:
                results[f"{name}.baseline.{kernel}"] = baseline[kernel]
        panels[f"{name}: semantic {args.kernel[0]}"] = semantic[args.kernel[0]]
        if args.baseline:
            panels[f"{name}: spatio-semantic {args.kernel[0]}"] = baseline[args.kernel[0]]
    np.savez(args.output, **results)
    print(f"wrote {len(results)} RSM(s) of {len(layers)} layer(s) to {args.output}")
    if args.plot:
        rsm_heatmap(panels, columns=2 if args.baseline else 4, path=args.plot)
        print(f"wrote {args.plot}")
    return 0
