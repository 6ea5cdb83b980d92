"""``semrsm compare-kinds INPUT.npz``: CKA of semantic vs spatio-semantic RSMs, layer by layer."""

from __future__ import annotations

import numpy as np

from .._backend import to_numpy
from ..plot import layer_profile
from ..similarity import compare_kinds
from ._common import read_layers

HELP = ("CKA between the semantic and the spatio-semantic RSM of each layer of one network "
        "(Wald et al., 2024)")


def add_arguments(parser) -> None:
    parser.add_argument("input", metavar="INPUT.npz",
                        help="one array per layer: (N, C, H, W) conv maps or (N, T, D) tokens")
    parser.add_argument("-o", "--output", metavar="PATH", help="write the per-layer plot there (.png, .pdf)")
    parser.add_argument("--kernel", choices=("cosine", "inner", "rbf"), default="cosine",
                        help="kernel of both RSMs (default cosine)")
    parser.add_argument("--matcher", default=None, help="matcher of the semantic RSM (default: its default)")
    parser.add_argument("--layout", choices=("NCHW", "NTD", "NSC"), default="NCHW",
                        help="axis order of every layer (default NCHW)")
    parser.add_argument("--debiased", action="store_true", help="debiased CKA (N >= 4)")
    parser.add_argument("--save-rsms", metavar="PATH",
                        help="also save both RSMs of every layer to an .npz (LABEL.semantic, LABEL.spatio)")
    parser.add_argument("--csv", metavar="PATH", help="also write layer,cka as CSV")
    parser.add_argument("--progress", action="store_true", help="show a progress bar over layers")


def run(args) -> int:
    layers = read_layers(args.input)
    result = compare_kinds(layers, kernel=args.kernel, matcher=args.matcher, layout=args.layout,
                           debiased=args.debiased, return_rsms=bool(args.save_rsms), progress=args.progress)
    print(f"CKA{' (debiased)' if args.debiased else ''} of semantic vs spatio-semantic RSMs "
          f"({args.kernel} kernel) per layer of {args.input}")
    print(result.table())
    if args.csv:
        with open(args.csv, "w", encoding="utf-8") as out:
            out.write("layer,cka\n")
            out.writelines(f"{label},{float(v)!r}\n" for label, v in zip(result.labels, result.values))
    if args.save_rsms:
        arrays = {}
        for label, (semantic, spatial) in result.rsms.items():
            arrays[f"{label}.semantic"] = to_numpy(semantic)
            arrays[f"{label}.spatio"] = to_numpy(spatial)
        np.savez(args.save_rsms, **arrays)
    if args.output:
        layer_profile(result, path=args.output)
        print(f"wrote {args.output}")
    return 0
