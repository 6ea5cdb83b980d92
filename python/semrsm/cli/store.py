"""``semrsm store info|export STORE``: what a job store of ``semrsm rsm --store`` holds (its options,
progress and missing tiles), and its RSMs written to an .npz."""

from __future__ import annotations

import json

import numpy as np

from ..jobs import open_rsm
from ._common import UserError, output_path
from .rsm import _names, _sigma

HELP = "a job store written by semrsm rsm --store: its options and progress (info), or its RSMs (export)"

#: Missing tiles listed by ``info`` at most.
_LISTED = 20


def add_arguments(parser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = actions.add_parser("info", help="options, progress and missing tiles")
    info.add_argument("store", metavar="STORE.zarr")
    export = actions.add_parser("export", help="the RSMs (keys semantic.KERNEL) into an .npz")
    export.add_argument("store", metavar="STORE.zarr")
    export.add_argument("-o", "--output", metavar="OUT.npz", required=True)
    export.add_argument("--kernel", type=_names, default=["cosine"],
                        help="inner, cosine, rbf, or several separated by commas (default cosine)")
    export.add_argument("--sigma", type=_sigma, default=None, help="RBF bandwidth or rule (default median)")
    export.add_argument("--allow-missing", action="store_true", help="write missing tiles as NaN")


def _info(stored) -> int:
    done, total = stored.progress
    n, m, S, C = stored.shape
    attrs = stored.store.attrs
    print(f"store     {stored.path}")
    print(f"job       {'symmetric ' if stored.symmetric else ''}{n} x {m} samples of S = {S} positions, C = {C} "
          f"channels; tile {attrs['tile']}; semrsm {attrs['semrsm_version']}")
    print(f"options   {json.dumps(stored.options)}")
    print(f"input     x {json.dumps(attrs['x'])}" + ("" if attrs["y"] is None else f"\n          y {json.dumps(attrs['y'])}"))
    print(f"progress  {done} of {total} tiles done ({100.0 * done / total:.1f} %)")
    missing = stored.missing_tiles()
    if missing:
        listed = " ".join(f"{r},{c}" for r, c in missing[:_LISTED])
        print(f"missing   {listed}{' ...' if len(missing) > _LISTED else ''}")
    return 0


def run(args) -> int:
    stored = open_rsm(args.store)
    if args.action == "info":
        return _info(stored)
    output = output_path(args.output, "-o", (".npz",))
    if args.sigma is not None and "rbf" not in args.kernel:
        raise UserError("--sigma applies to the rbf kernel only")
    rsms = stored.kernel(args.kernel, sigma=args.sigma, allow_missing=args.allow_missing)
    np.savez(output, **{f"semantic.{kernel}": rsms[kernel] for kernel in args.kernel})
    print(f"wrote {len(args.kernel)} RSM(s) of {stored.path} to {output}")
    return 0
