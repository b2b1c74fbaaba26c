"""Run the benchmarks, save their JSON by Python and torch version, and build the report.

    python -m benchmarks.run [--out DIR] [pytest options...]

This is what ``tox -e bench`` runs.  The JSON goes to ``DIR/bench-py<X.Y>-torch<version>.json``
(default DIR: ``report``; the torch version without its local ``+cpu``/``+cu128`` label, which
the JSON's machine_info keeps), then ``python -m benchmarks.report`` builds ``DIR/benchmarks.md``
and ``DIR/benchmarks.png`` from every ``DIR/bench-*.json`` -- so runs under other torch
versions appear side by side.  Other options go to pytest (e.g. ``--benchmark-max-time=0.2``,
``-k silu``).  The exit status is pytest's when it failed, else the report's.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import report


def json_name(python_version: str | None = None, torch_version: str | None = None) -> str:
    """``bench-py3.11-torch2.13.0.json`` for this interpreter and torch (or the given versions)."""
    py = ".".join((python_version or platform.python_version()).split(".")[:2])
    tv = (torch_version or torch.__version__).split("+")[0]
    return f"bench-py{py}-torch{tv}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", add_help=False)
    parser.add_argument("--out", default="report")
    args, pytest_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / json_name()
    code = pytest.main(["benchmarks", "--benchmark-only", f"--benchmark-json={json_path}", "-p", "no:xdist", *pytest_args])
    if code != pytest.ExitCode.OK:
        print(f"benchmarks.run: pytest exited with {int(code)}; the report is not rebuilt", file=sys.stderr)
        return int(code)
    return report.main(["--out", str(out), *sorted(str(p) for p in out.glob("bench-*.json"))])


if __name__ == "__main__":
    raise SystemExit(main())
