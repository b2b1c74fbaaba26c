"""Build the benchmark report from pytest-benchmark JSON: markdown tables and a log-log plot.

    python -m benchmarks.report [JSON ...] [--out DIR]

With no JSON arguments it reads every ``report/bench-*.json`` (one per Python x torch version,
as ``tox -e bench`` names them), so running the bench env under two torch versions and then
this command puts the versions side by side.  It writes ``DIR/benchmarks.md`` and
``DIR/benchmarks.png`` (default DIR: ``report``).

    python -m benchmarks.report --noise A.json B.json

compares two runs of the same benchmarks (e.g. two identical runs) and prints how far their
medians moved: the noise a ``--benchmark-compare-fail`` threshold has to stand above.

Ratios are of medians.  Targets are evaluated from the JSON; a missed target is shown as
MISSED with its reason, never left out.

This module is the command line only: loading the JSON is in ``runs.py``, the targets in
``targets.py``, the markdown in ``markdown.py`` (numbers formatted by ``formatting.py``), the
plot in ``plot.py`` and the noise comparison in ``noise.py``.
"""

from __future__ import annotations

import argparse
import glob
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.markdown import build_markdown
from benchmarks.noise import _noise_summary, noise
from benchmarks.plot import plot, plot_checks
from benchmarks.runs import load_run
from benchmarks.targets import evaluate_targets

__all__ = ["main"]

DEFAULT_GLOB = "report/bench-*.json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="*", help=f"pytest-benchmark JSON files (default: {DEFAULT_GLOB})")
    parser.add_argument("--out", default="report", help="directory for benchmarks.md and benchmarks.png (default: report)")
    parser.add_argument("--device", default="cpu", help="device of the time and memory tables (default: cpu)")
    parser.add_argument("--no-plot", action="store_true", help="write the markdown only")
    parser.add_argument("--noise", nargs=2, metavar=("A", "B"), help="print how far medians moved between two runs, and exit")
    args = parser.parse_args(argv)
    if args.noise:
        for measure in ("fwd+bwd", "check"):
            changes = noise(load_run(args.noise[0]), load_run(args.noise[1]), measure)
            if changes:
                print(f"[{measure}] " + _noise_summary(changes))
            sizes = sorted({int(name.rsplit("-n", 1)[1].split("-")[0]) for name, _ in changes})
            for n in sizes if len(sizes) > 1 else ():
                print(f"  [numel {n}] " + _noise_summary([c for c in changes if f"-n{n}-" in c[0]]).splitlines()[0])
        return 0
    paths = args.json or sorted(glob.glob(DEFAULT_GLOB))
    if not paths:
        print(f"no JSON given and none matches {DEFAULT_GLOB}: run `tox -e bench` first", file=sys.stderr)
        return 2
    runs = [load_run(p) for p in paths]
    runs = [r for r in runs if r.rows] or runs
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_name = checks_plot_name = None
    if not args.no_plot:
        plot_name = plot(runs, out / "benchmarks.png", args.device).name
        checks_plot = plot_checks(runs, out / "benchmarks-checks.png")
        checks_plot_name = checks_plot.name if checks_plot else None
    md = out / "benchmarks.md"
    md.write_text(build_markdown(runs, plot_name, args.device, checks_plot_name=checks_plot_name))
    plots = [name for name in (plot_name, checks_plot_name) if name]
    print(f"wrote {md}" + "".join(f" and {out / name}" for name in plots) + f" from {', '.join(paths)}")
    for t in (t for run in runs for t in evaluate_targets(run, args.device)):
        if t.met is False:
            print(f"MISSED [{t.run}] {t.target} {t.function} vs {t.against}: {t.measured} (target {t.limit})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
