"""Loading pytest-benchmark JSON runs for the benchmark report, and looking benchmarks up in them.

One JSON file is one :class:`Run` (one Python x torch version); each of our benchmarks in it
is a :class:`Row`.  The lookup helpers return None where a benchmark is absent.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

__all__ = ["Row", "Run", "load_run", "ratio"]


@dataclasses.dataclass(frozen=True)
class Row:
    """One benchmark from the JSON."""

    function: str
    impl: str
    numel: int
    measure: str  # fwd+bwd, saved-bytes, check
    device: str
    median: float  # seconds
    iqr: float
    rounds: int
    shape: str = ""
    saved_bytes: int | None = None


@dataclasses.dataclass
class Run:
    """One JSON file: one run under one Python x torch version."""

    path: str
    label: str
    machine: dict
    datetime: str
    loadavg: list | None
    rows: list[Row]

    def get(self, measure: str, function: str, impl: str, numel: int, device: str = "cpu") -> Row | None:
        for r in self.rows:
            if (r.measure, r.function, r.impl, r.numel, r.device) == (measure, function, impl, numel, device):
                return r
        return None

    def functions(self, measure: str) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.rows:
            if r.measure == measure:
                seen.setdefault(r.function)
        return list(seen)

    def values(self, attr: str, **match) -> list:
        out = []
        for r in self.rows:
            if all(getattr(r, k) == v for k, v in match.items()):
                out.append(getattr(r, attr))
        return sorted(set(out), key=lambda v: (str(type(v)), v))


def _label(machine: dict) -> str:
    py = ".".join(str(machine.get("python_version", "?")).split(".")[:2])
    return f"py{py} torch {machine.get('torch_version', '?')}"


def load_run(path: str | Path) -> Run:
    """Read one pytest-benchmark JSON; benchmarks without our extra_info are ignored."""
    with open(path) as f:
        data = json.load(f)
    machine = data.get("machine_info", {})
    rows = []
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if not {"function", "impl", "numel"} <= info.keys():
            continue
        stats = bench.get("stats", {})
        rows.append(
            Row(
                function=info["function"],
                impl=info["impl"],
                numel=int(info["numel"]),
                measure=info.get("measure", "fwd+bwd"),
                device=info.get("device", "cpu"),
                median=float(stats.get("median", math.nan)),
                iqr=float(stats.get("iqr", math.nan)),
                rounds=int(stats.get("rounds", 0)),
                shape=info.get("shape", ""),
                saved_bytes=info.get("saved_bytes"),
            )
        )
    return Run(
        path=str(path),
        label=_label(machine),
        machine=machine,
        datetime=data.get("datetime", ""),
        loadavg=data.get("loadavg"),
        rows=rows,
    )


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or not math.isfinite(a) or not math.isfinite(b):
        return None
    return a / b



def _median_of(run: Run, measure: str, function: str, impl: str, numel: int, device: str) -> float | None:
    row = run.get(measure, function, impl, numel, device)
    return None if row is None else row.median


def _saved_of(run: Run, function: str, impl: str, numel: int, device: str) -> int | None:
    row = run.get("saved-bytes", function, impl, numel, device)
    return None if row is None else row.saved_bytes


def _baselines(run: Run, function: str) -> list[str]:
    """Native baselines of a Function present in the run: 'native' first, then extras."""
    impls = run.values("impl", function=function, measure="fwd+bwd")
    return ["native"] + sorted(i for i in impls if i.startswith("native") and i != "native")
