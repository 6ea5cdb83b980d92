"""``semrsm compare-kinds INPUT.npz``: CKA of semantic vs spatio-semantic RSMs, layer by layer."""

from __future__ import annotations

import numpy as np

from .._backend import to_numpy
from ..plot import layer_profile
from ..semantic import LAYOUTS, MATCHER_ALIASES, MATCHERS
from ..similarity import KindComparison, compare_kinds
from ._common import FIGURE_SUFFIXES, layer_layout, output_path, read_layers, run_layers

HELP = ("CKA between the semantic and the spatio-semantic RSM of each layer of one network "
        "(Wald et al., 2024)")


def add_arguments(parser) -> None:
    parser.add_argument("input", metavar="INPUT.npz",
                        help="one array per layer: (N, C, H, W) conv maps, (N, T, D) tokens or (N, D) vectors")
    parser.add_argument("-o", "--output", metavar="PATH", help="write the per-layer plot there (.png, .pdf, .svg)")
    parser.add_argument("--kernel", choices=("cosine", "inner", "rbf"), default="cosine",
                        help="kernel of both RSMs (default cosine)")
    parser.add_argument("--matcher", choices=MATCHERS + tuple(MATCHER_ALIASES), default=None,
                        help="matcher of the semantic RSM (default exact)")
    parser.add_argument("--layout", choices=LAYOUTS, default=None,
                        help="NCHW for 4-D arrays, NTD for 3-D ones unless given; 2-D (N, D) layers have one "
                             "position")
    parser.add_argument("--debiased", action="store_true", help="debiased CKA (N >= 4)")
    parser.add_argument("--save-rsms", metavar="PATH",
                        help="also save both RSMs of every layer to an .npz (LABEL.semantic, LABEL.spatio)")
    parser.add_argument("--csv", metavar="PATH", help="also write layer,cka as CSV")
    parser.add_argument("--progress", action="store_true", help="show a progress bar over layers")


def run(args) -> int:
    plot = output_path(args.output, "-o", FIGURE_SUFFIXES)
    save = output_path(args.save_rsms, "--save-rsms", (".npz",))
    csv = output_path(args.csv, "--csv", (".csv",))
    layers = read_layers(args.input)

    def layer_cka(name, x):
        return compare_kinds({name: x}, kernel=args.kernel, matcher=args.matcher, layout=layer_layout(x, args.layout),
                             debiased=args.debiased, return_rsms=bool(save))

    done = run_layers(layers, layer_cka, "compare-kinds", progress=args.progress)
    parts = list(done.values())
    result = KindComparison(tuple(done), np.concatenate([p.values for p in parts]), args.kernel, args.matcher,
                            args.debiased, {k: v for p in parts for k, v in (p.rsms or {}).items()} or None)
    print(f"CKA{' (debiased)' if args.debiased else ''} of semantic vs spatio-semantic RSMs "
          f"({args.kernel} kernel) per layer of {args.input}")
    print(result.table())
    if csv:
        with open(csv, "w", encoding="utf-8") as out:
            out.write("layer,cka\n")
            out.writelines(f"{label},{float(v)!r}\n" for label, v in zip(result.labels, result.values))
        print(f"wrote {csv}")
    if save:
        arrays = {}
        for label, (semantic, spatial) in result.rsms.items():
            arrays[f"{label}.semantic"] = to_numpy(semantic)
            arrays[f"{label}.spatio"] = to_numpy(spatial)
        np.savez(save, **arrays)
        print(f"wrote {save}")
    if plot:
        layer_profile(result, path=plot)
        print(f"wrote {plot}")
    failed = [name for name in layers if name not in done]
    if failed:
        print(f"{len(failed)} layer(s) failed and are not in the output: {', '.join(failed)}")
        return 1
    return 0

