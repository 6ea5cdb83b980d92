"""The report: what was built and how, the versions in play, and the comparison table."""

from __future__ import annotations

import sys
from pathlib import Path

from _common import markdown_header, markdown_row, package_versions

from .adapters import SOLVERS
from .worker import parse_case

#: The distributions whose versions the report names.
REPORTED = ("semrsm", "torch", "triton", "cupy-cuda13x", "cupy-cuda12x", "cupy", "numpy", "torch-linear-assignment",
            "torch-lap-cuda")


def versions(site=None):
    """Installed versions of the things in the table (``site`` first, where the peers are), read
    without importing torch here."""
    return package_versions(REPORTED, [str(Path(site).resolve()), *sys.path] if site else None)


def markdown(results, solvers, cases, repeats=5):
    """The comparison table: one row per case, one column per solver (median ms and, for the
    peers, their time over semrsm's), then the objective checks and the reasons for every skip."""
    rows = [markdown_header(["costs", "B", "n"] + [f"{SOLVERS[s][0]} ms" for s in solvers] + ["objectives vs semrsm"])]
    notes = []
    for key in cases:
        kind, batch, n = parse_case(key)
        ours = results.get("semrsm", {}).get(key, {})
        ours_ms = ours.get("median_ms") if ours.get("status") == "ok" else None
        cells, checks = [kind, str(batch), str(n)], []
        for s in solvers:
            r = results.get(s, {}).get(key)
            if r is None:
                cells.append("-")
                continue
            if r.get("status") != "ok":
                notes.append(f"- {SOLVERS[s][0]}, {kind} B={batch} n={n}: {r.get('why', '?')}")
                cells.append(f"skipped [{len(notes)}]")
                continue
            ms = r["median_ms"]
            cell = f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"
            if r["runs"] == 0:
                cell += " (warm-up only)"
            elif r["runs"] < repeats:
                cell += f" ({r['runs']} run{'s' if r['runs'] > 1 else ''})"
            if s != "semrsm" and ours_ms:
                ratio = ms / ours_ms
                cell += f" ({ratio:.1f}x)" if ratio >= 0.95 else f" ({ratio:.2f}x)"
            cells.append(cell)
            c = r.get("check")
            if s == "semrsm":
                if c and c.get("invalid"):
                    checks.append(f"semrsm: {c['invalid']} invalid!")
                continue
            if not r.get("input_unchanged", True):
                checks.append(f"{s}: changed its input")
            if not c:
                checks.append(f"{s}: no reference")
            elif c["invalid"] or c["worse"] or c["better"]:
                parts = [f"{c[k]} {k}" for k in ("worse", "better", "invalid") if c[k]]
                checks.append(f"{s}: {', '.join(parts)} of {c['problems']} (max rel. gap {c['max_rel_gap']:.1e})")
            else:
                checks.append(f"{s}: equal")
            if r.get("same_costs") is False:
                checks.append(f"{s}: costs differed from semrsm's worker (checksum)")
        cells.append("; ".join(checks) or "-")
        rows.append(markdown_row(cells))
    return "\n".join(rows), notes


def build_report(built):
    """Markdown lines saying what :func:`build` built, how, and why anything failed."""
    lines = []
    for dist, rec in built.items():
        if rec.get("ok"):
            line = f"- {dist} {rec['version']}: built ({rec.get('variant', '?')}"
            line += f"; patched {', '.join(rec['patched'])}" if rec.get("patched") else ""
            line += f", {rec.get('seconds', 0):.0f} s" + (", reused" if rec.get("reused") else "")
            imported = " / ".join(rec.get("import", "").splitlines()[-2:])
            lines.append(line + f"); import check: {imported or '-'}")
            for label, errors in rec.get("errors", {}).items():
                first = next((e for e in errors.splitlines() if "error" in e.lower()), errors[:200])
                lines.append(f"  - {label} failed first: `{first.strip()}`")
        else:
            lines.append(f"- {dist} {rec['version']}: NOT built")
            for label, errors in rec.get("errors", {}).items():
                lines += [f"  - {label}:", "", "```", errors, "```", ""]
            if rec.get("import"):
                lines += ["  - import check:", "", "```", rec["import"], "```", ""]
    return lines
