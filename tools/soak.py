"""False-alarm soak: the whole gate on the built-in Functions and every twin, under many random
seeds (the random ``dev`` profile).  Every Function here is correct, so every failure is a false
alarm in an oracle or a strategy.

    python -m tools.soak [--runs 20] [--seeds 1,2,3] [--only NAME,...] [--workers 2] [--out report/soak.json]

Exit status 1 if any run failed; each failure's seed replays it with ``--hypothesis-seed``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from funcs import SPECS as BUILT_IN
from tests.corpus.gate_runner import run_gate
from tests.corpus.twins import TWINS

# --funcs tools.soak: built-ins first, then the twins that are not built in.
SPECS = [*BUILT_IN, *(twin for name, twin in TWINS.items() if name not in {s.name for s in BUILT_IN})]


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds {text!r}: expected comma-separated integers") from None


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"--only {text!r}: expected comma-separated spec names")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="number of random seeds (default: 20)")
    parser.add_argument("--seeds", type=_seeds, default=None, help="these seeds instead of random ones")
    parser.add_argument("--only", type=_names, default=None, help="only these specs, by name (default: all)")
    parser.add_argument("--workers", default="2", help="pytest-xdist workers per run (default: 2)")
    parser.add_argument("--out", type=Path, default=Path("report/soak.json"), help="summary file (default: report/soak.json)")
    args = parser.parse_args(argv)
    if args.seeds is None and args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    seeds = args.seeds or [random.SystemRandom().randrange(2**32) for _ in range(args.runs)]
    names = args.only or [s.name for s in SPECS]
    unknown = sorted(set(names) - {s.name for s in SPECS})
    if unknown:
        parser.error(f"--only: no spec named {', '.join(unknown)} (known: {', '.join(s.name for s in SPECS)})")
    funcs = [f"tools.soak_each:{name}" for name in names] if args.only else "tools.soak"
    print(f"soak: {len(seeds)} runs of the gate on {len(names)} specs ({', '.join(names)}), profile dev", flush=True)
    runs = []
    for i, seed in enumerate(seeds, 1):
        start = time.monotonic()
        run = run_gate(funcs, "--hypothesis-seed", str(seed), "-n", args.workers, profile="dev", timeout=None)
        failed = sorted({c["key"] for c in run.cells if c["outcome"] == "failed"})
        passed = sum(c["outcome"] == "passed" for c in run.cells)
        if run.exit_code not in (0, 1) or not run.cells:
            failed.append(f"gate did not run (exit {run.exit_code})")
        seconds = time.monotonic() - start
        runs.append({"seed": seed, "exit_code": run.exit_code, "passed_cells": passed, "failed": failed, "seconds": round(seconds, 1)})
        print(f"[{i}/{len(seeds)}] seed {seed}: {passed} cells passed, {len(failed)} failed, {seconds:.0f} s", flush=True)
        if failed:
            print("".join(f"    FAILED {key}\n" for key in failed) + run.output[-6000:], flush=True)
    failures = sum(len(r["failed"]) for r in runs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"specs": names, "failures": failures, "runs": runs}, indent=2))
    print(f"soak: {failures} failures in {len(runs)} runs; summary in {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
