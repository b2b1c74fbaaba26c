"""The benchmark report's plot: time against size, log-log, custom vs native, one panel per Function."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from benchmarks.runs import Run, _baselines

__all__ = ["plot"]


def plot(runs: Sequence[Run], path: str | Path, device: str = "cpu") -> Path:
    """Time against numel, log-log, one panel per Function; custom solid, baselines dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    functions: dict[str, None] = {}
    for run in runs:
        for f in run.functions("fwd+bwd"):
            functions.setdefault(f)
    names = list(functions)
    cols = min(5, max(1, len(names)))
    nrows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(3.3 * cols, 2.9 * nrows), squeeze=False)
    styles = {"custom": "-", "native": "--"}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, function in zip(axes.flat, names):
        for k, run in enumerate(runs):
            for impl in ["custom"] + _baselines(run, function):
                pts = sorted(
                    (r.numel, r.median) for r in run.rows
                    if r.measure == "fwd+bwd" and r.function == function and r.impl == impl and r.device == device
                )
                if not pts:
                    continue
                xs, ys = zip(*pts)
                label = impl + (f" ({run.label})" if len(runs) > 1 else "")
                ax.plot(xs, ys, styles.get(impl, ":"), marker="o", markersize=3, color=colors[k % len(colors)] if len(runs) > 1 else None, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(function, fontsize=10)
        ax.set_xlabel("elements", fontsize=8)
        ax.set_ylabel("fwd+bwd median (s)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.suptitle(f"custom Function vs native, forward + backward, float32, {device}", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
