"""``semrsm demo``: spatio-semantic vs semantic RSMs of overlapping crops of real photographs."""

from __future__ import annotations

from ..analysis.experiments import EXPERIMENTS, QUICK
from ..demo import TABLE_NOTE, conclusion, format_table, run_demo

HELP = ("compare spatio-semantic and semantic RSMs on overlapping crops of bundled photographs "
        "(a random conv net, several layers); prints a table and writes a figure")


def add_arguments(parser) -> None:
    parser.add_argument("-o", "--output", metavar="DIR", default="semrsm-demo",
                        help="folder for figure.png and rsms.npz (default ./semrsm-demo)")
    parser.add_argument("--matcher", default="exact", help="matcher of the semantic RSMs (default exact)")
    parser.add_argument("--quick", action="store_true", help="a smaller version that runs in seconds")
    parser.add_argument("--threads", type=int, default=None, help="default all cores")
    parser.add_argument("--experiment", choices=tuple(EXPERIMENTS), default=None,
                        help="instead, one of the paper's analyses: retrieval F1@1 of composed scenes, "
                             "correlation with the JSD of a trained classifier's predictions, or the matcher "
                             "study; writes EXPERIMENT.png and EXPERIMENT.csv into the folder")


def run_experiment(args) -> int:
    options = dict(QUICK[args.experiment]) if args.quick else {}
    if args.experiment != "matchers":
        options["matcher"] = args.matcher
    result = EXPERIMENTS[args.experiment](args.output, threads=args.threads, **options)
    print(result.table)
    print(f"\n{result.summary}\nwrote {result.csv} and {result.figure} in {result.seconds:.1f} s")
    return 0


def run(args) -> int:
    if args.experiment:
        return run_experiment(args)
    size = dict(images=3, per_image=3, size=32, channels=(16, 32, 64)) if args.quick else {}
    print("Crops of bundled photographs, several per photograph, shifted so that they overlap; "
          "features of a random conv net.")
    result = run_demo(args.output, matcher=args.matcher, threads=args.threads, **size)
    print(f"{len(result.group)} crops; {TABLE_NOTE}:\n")
    print(format_table(result))
    print(f"\n{conclusion(result)}\nwrote {result.figure} and rsms.npz in {result.seconds:.1f} s")
    return 0
