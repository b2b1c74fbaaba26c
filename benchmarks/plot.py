"""The benchmark report's plots, time against size, log-log, one panel per Function:

* ``plot``: forward + backward, custom vs native;
* ``plot_checks``: one example of the gate's checks (as a property runs them, strict first) against
  the Function's own forward + backward and gradcheck, plus a panel for drawing one tensor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from benchmarks.runs import Run, _baselines

__all__ = ["CHECK_LINES", "DRAW_LINES", "plot", "plot_checks"]

# (impl, line style) of each line in a check panel, and in the drawing panel.
CHECK_LINES = (("oracle-strict", "-"), ("oracle-native-strict", "-"), ("function", "--"), ("gradcheck-fast", ":"), ("gradcheck-slow", ":"))
DRAW_LINES = (("filled", "-"), ("elementwise", ":"), ("randn", "--"))


def _points(run: Run, measure: str, function: str, impl: str, device: str) -> list[tuple[int, float]]:
    return sorted(
        (r.numel, r.median) for r in run.rows
        if r.measure == measure and r.function == function and r.impl == impl and r.device == device
    )


def _figure(runs: Sequence[Run], panels: list[tuple[str, str, str, list[tuple[str, str]]]], title: str, path: str | Path, device: str) -> Path:
    """``panels``: (panel title, measure, function, [(impl, style)]), each a log-log panel of median time against numel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    cols = min(5, max(1, len(panels)))
    nrows = max(1, math.ceil(len(panels) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(3.3 * cols, 2.9 * nrows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (name, measure, function, lines) in zip(axes.flat, panels):
        for k, run in enumerate(runs):
            for j, (impl, style) in enumerate(lines):
                pts = _points(run, measure, function, impl, device)
                if not pts:
                    continue
                xs, ys = zip(*pts)
                label = impl + (f" ({run.label})" if len(runs) > 1 else "")
                color = colors[(k if len(runs) > 1 else j) % len(colors)]
                ax.plot(xs, ys, style, marker="o", markersize=3, color=color, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("elements", fontsize=8)
        ax.set_ylabel(f"{measure} median (s)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _functions(runs: Sequence[Run], measure: str) -> list[str]:
    return list(dict.fromkeys(f for run in runs for f in run.functions(measure)))


def plot(runs: Sequence[Run], path: str | Path, device: str = "cpu") -> Path:
    """Forward + backward time against numel, one panel per Function; custom solid, baselines dashed."""
    panels = []
    for function in _functions(runs, "fwd+bwd"):
        impls = dict.fromkeys(["custom", *(b for run in runs for b in _baselines(run, function))])
        panels.append((function, "fwd+bwd", function, [(i, "-" if i == "custom" else "--" if i == "native" else ":") for i in impls]))
    return _figure(runs, panels, f"custom Function vs native, forward + backward, float32, {device}", path, device)


def plot_checks(runs: Sequence[Run], path: str | Path) -> Path | None:
    """The checks' time against numel, one panel per Function, and drawing one tensor; None when the runs have neither."""
    panels = [(function, "check", function, list(CHECK_LINES)) for function in _functions(runs, "check")]
    panels += [(f"drawing one {function}", "draw", function, list(DRAW_LINES)) for function in _functions(runs, "draw")]
    if not panels:
        return None
    title = "one example of the gate's checks (strict first) vs the Function's forward + backward and gradcheck, float64, cpu"
    return _figure(runs, panels, title, path, "cpu")
