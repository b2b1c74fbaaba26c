"""The noise between two runs of the same benchmarks: how far their medians moved.

This is the noise a ``--benchmark-compare-fail`` threshold has to stand above
(``python -m benchmarks.report --noise A.json B.json``).
"""

from __future__ import annotations

import statistics

from benchmarks.runs import Run

__all__ = ["noise"]


def noise(a: Run, b: Run, measure: str = "fwd+bwd") -> list[tuple[str, float]]:
    """(benchmark, relative change of the median from a to b) for every benchmark in both."""
    index = {(r.measure, r.function, r.impl, r.numel, r.device): r for r in b.rows}
    out = []
    for r in a.rows:
        if r.measure != measure:
            continue
        other = index.get((r.measure, r.function, r.impl, r.numel, r.device))
        if other is not None and r.median > 0:
            out.append((f"{r.function}-{r.impl}-n{r.numel}-{r.device}", other.median / r.median - 1.0))
    return out


def _noise_summary(changes: list[tuple[str, float]]) -> str:
    if not changes:
        return "no benchmarks in common"
    mags = sorted(abs(c) for _, c in changes)
    q = lambda p: mags[min(len(mags) - 1, int(p * (len(mags) - 1) + 0.5))]
    worst = sorted(changes, key=lambda t: -abs(t[1]))[:5]
    mean = statistics.fmean(c for _, c in changes)
    lines = [
        (
            f"{len(changes)} benchmarks: |change of median| median {q(0.5):.1%}, 90th percentile {q(0.9):.1%}, "
            f"95th {q(0.95):.1%}, max {mags[-1]:.1%}; mean signed change {mean:+.1%}"
        ),
        "largest: " + ", ".join(f"{name} {c:+.1%}" for name, c in worst),
    ]
    return "\n".join(lines)
