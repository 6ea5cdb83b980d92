"""``semrsm cka A.npz [B.npz]``: every layer of one network against every layer of another."""

from __future__ import annotations

import argparse

from ..cka import RBF_MEDIANS
from ..plot import similarity_heatmap
from ..similarity import MEASURES, similarity_matrix
from ._common import FIGURE_SUFFIXES, UserError, output_path, read_layers

HELP = ("compare every layer of A.npz with every layer of B.npz (linear/RBF CKA or the CCA family) "
        "and draw the heatmap")

_CKA_MEASURES = ("linear_cka", "rbf_cka", "cka")


def _keep(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--keep must be a fraction of variance (0.99) or a number of dimensions (20); "
                             f"got {text!r}") from None


def add_arguments(parser) -> None:
    parser.add_argument("a", metavar="A.npz", help="layers of network A: one array (N, ...) per layer")
    parser.add_argument("b", metavar="B.npz", nargs="?",
                        help="layers of network B (default: A against itself)")
    parser.add_argument("-o", "--output", metavar="PATH", help="write the heatmap there (.png, .pdf, .svg)")
    parser.add_argument("--measure", choices=list(MEASURES), default=None,
                        help="similarity measure (default linear_cka; cka with --rsm)")
    parser.add_argument("--rsm", action="store_true",
                        help="the arrays are precomputed N x N RSMs / Gram matrices (measure cka)")
    parser.add_argument("--debiased", action="store_true", help="debiased CKA (unbiased HSIC, N >= 4)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="rbf_cka: bandwidth as a fraction of the median distance (default 1)")
    parser.add_argument("--median", choices=RBF_MEDIANS, default=None,
                        help="rbf_cka: the median over all N^2 squared distances (default, as Kornblith et al.'s "
                             "code) or over the distinct pairs")
    parser.add_argument("--keep", type=_keep, default=None,
                        help="svcca: fraction of variance (default 0.99) or number of dimensions kept")
    parser.add_argument("--method", choices=("auto", "features", "gram"), default=None,
                        help="linear_cka: compute in feature space or through Gram matrices (default auto)")
    parser.add_argument("--csv", metavar="PATH", help="also write the matrix as CSV")
    parser.add_argument("--title", help="title of the heatmap (default: the measure)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar over pairs of layers")


def measure_options(args, measure: str) -> dict:
    """The options given on the command line, checked against what ``measure`` takes."""
    given = {"debiased": args.debiased or None, "threshold": args.threshold, "median": args.median, "keep": args.keep,
             "method": args.method}
    options = {k: v for k, v in given.items() if v is not None}
    wrong = [k for k in options if k not in MEASURES[measure].options]
    if wrong:
        raise UserError(f"--{wrong[0]} does not apply to --measure {measure}")
    return options


def write_csv(path: str, sim) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write("," + ",".join(sim.labels_b) + "\n")
        for label, row in zip(sim.labels_a, sim.values):
            out.write(label + "," + ",".join(repr(float(v)) for v in row) + "\n")


def run(args) -> int:
    measure = args.measure or ("cka" if args.rsm else "linear_cka")
    if args.rsm and measure != "cka":
        raise UserError(f"--rsm takes precomputed RSMs, compared with --measure cka, not {measure}")
    if measure == "cka" and not args.rsm:
        raise UserError("--measure cka compares precomputed RSMs: add --rsm (or use linear_cka on features)")
    options = measure_options(args, measure)
    heatmap = output_path(args.output, "-o", FIGURE_SUFFIXES)
    csv = output_path(args.csv, "--csv", (".csv",))
    layers_a = read_layers(args.a)
    layers_b = None if args.b is None else read_layers(args.b)
    sim = similarity_matrix(layers_a, layers_b, measure, progress=args.progress, **options)
    name = measure + (" (debiased)" if options.get("debiased") else "")
    print(f"{name}: rows {args.a}, columns {args.b or args.a}")
    print(sim.table())
    if csv:
        write_csv(csv, sim)
        print(f"wrote {csv}")
    if heatmap:
        similarity_heatmap(sim, title=args.title or name, vmin=None if options.get("debiased") else 0.0,
                           path=heatmap)
        print(f"wrote {heatmap}")
    return 0
