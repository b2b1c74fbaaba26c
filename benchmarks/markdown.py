"""The benchmark report as markdown: the runs, headline, targets, per-Function, memory and checking tables.

Ratios are of medians; the targets section lists every target, met or MISSED with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from benchmarks.formatting import fmt_bytes, fmt_numel, fmt_ratio, fmt_time
from benchmarks.runs import Run, _baselines, _median_of, _saved_of, ratio
from benchmarks.targets import evaluate_targets

__all__ = ["build_markdown"]


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines



def _runs_table(runs: Sequence[Run]) -> list[str]:
    rows = []
    for run in runs:
        m = run.machine
        load = "—" if not run.loadavg else " / ".join(f"{x:.2f}" for x in run.loadavg)
        rows.append(
            (
                run.label, m.get("python_version", "?"), m.get("torch_version", "?"), m.get("device", "?"),
                m.get("torch_num_threads", "?"), m.get("cpu_count", "?"), _allocator(m), run.datetime[:16].replace("T", " "),
                load, f"`{Path(run.path).name}`",
            )
        )
    return _table(
        ("run", "python", "torch", "device", "torch threads", "cpus", "allocator", "date (UTC)", "load 1/5/15 min at end", "JSON"), rows
    )


def _allocator(machine: dict) -> str:
    """The run's allocator regime (benchmarks/allocator.py) in a word; runs before it was recorded were adaptive."""
    regime = machine.get("malloc")
    return regime.split(" ")[0] if regime else "adaptive (not recorded)"


def _headline(runs: Sequence[Run], device: str) -> list[str]:
    header = ["function"]
    for run in runs:
        suffix = f" ({run.label})" if len(runs) > 1 else ""
        header += [f"time ratio @1M{suffix}", f"overhead @1 el.{suffix}", f"saved-bytes ratio{suffix}"]
    functions: dict[str, None] = {}
    for run in runs:
        for f in run.functions("fwd+bwd"):
            functions.setdefault(f)
    rows = []
    for function in functions:
        row = [f"[{function}](#{function})"]
        for run in runs:
            sizes = run.values("numel", measure="fwd+bwd", device=device)
            mem = run.values("numel", measure="saved-bytes", device=device)
            large, small = (max(sizes), min(sizes)) if sizes else (None, None)
            custom = _median_of(run, "fwd+bwd", function, "custom", large, device)
            times, saved = [], []
            for base in _baselines(run, function):
                tag = "" if base == "native" else f" ({base})"
                times.append(fmt_ratio(ratio(custom, _median_of(run, "fwd+bwd", function, base, large, device))) + tag)
                if mem:
                    n = max(mem)
                    c, b = _saved_of(run, function, "custom", n, device), _saved_of(run, function, base, n, device)
                    saved.append(("0 / 0" if c == 0 and b == 0 else fmt_ratio(ratio(c, b))) + tag)
            cs = _median_of(run, "fwd+bwd", function, "custom", small, device)
            ns = _median_of(run, "fwd+bwd", function, "native", small, device)
            overhead = "—" if cs is None or ns is None else f"{(cs - ns) * 1e6:+.1f} µs"
            row += ["<br>".join(times), overhead, "<br>".join(saved) or "—"]
        rows.append(row)
    return _table(header, rows)


def _function_tables(runs: Sequence[Run], device: str) -> list[str]:
    lines: list[str] = []
    functions: dict[str, None] = {}
    for run in runs:
        for f in run.functions("fwd+bwd"):
            functions.setdefault(f)
    multi = len(runs) > 1
    for function in functions:
        lines += ["", f"### {function}", ""]
        bases: dict[str, None] = {}
        for run in runs:
            for b in _baselines(run, function):
                bases.setdefault(b)
        header = ["numel", "shape"] + (["run"] if multi else []) + ["custom"]
        for b in bases:
            header += [b, f"ratio vs {b}"]
        header += ["saved custom"] + [f"saved {b}" for b in bases] + [f"saved ratio vs {b}" for b in bases]
        rows = []
        sizes = sorted({n for run in runs for n in run.values("numel", measure="fwd+bwd", function=function, device=device)})
        for n in sizes:
            for run in runs:
                custom_row = run.get("fwd+bwd", function, "custom", n, device)
                if custom_row is None:
                    continue
                row = [fmt_numel(n), custom_row.shape] + ([run.label] if multi else []) + [fmt_time(custom_row.median)]
                for b in bases:
                    base = _median_of(run, "fwd+bwd", function, b, n, device)
                    row += [fmt_time(base), fmt_ratio(ratio(custom_row.median, base))]
                sc = _saved_of(run, function, "custom", n, device)
                row.append(fmt_bytes(sc))
                saved_bases = [_saved_of(run, function, b, n, device) for b in bases]
                row += [fmt_bytes(s) for s in saved_bases]
                row += ["0 / 0" if sc == 0 and s == 0 else fmt_ratio(ratio(sc, s)) for s in saved_bases]
                rows.append(row)
        lines += _table(header, rows)
    return lines


def _memory_table(runs: Sequence[Run], device: str) -> list[str]:
    rows = []
    multi = len(runs) > 1
    for run in runs:
        mem = run.values("numel", measure="saved-bytes", device=device)
        if not mem:
            continue
        n = max(mem)
        for function in run.functions("saved-bytes"):
            custom_row = run.get("saved-bytes", function, "custom", n, device)
            for b in ["native"] + sorted(
                i for i in run.values("impl", function=function, measure="saved-bytes") if i.startswith("native") and i != "native"
            ):
                base = _saved_of(run, function, b, n, device)
                c = None if custom_row is None else custom_row.saved_bytes
                rows.append(
                    [function, b] + ([run.label] if multi else []) + [
                        fmt_numel(n), fmt_bytes(c), fmt_bytes(base), "0 / 0" if c == 0 and base == 0 else fmt_ratio(ratio(c, base))
                    ]
                )
    header = ["function", "against"] + (["run"] if multi else []) + ["numel", "custom saves", "native saves", "ratio"]
    return _table(header, rows)


CHECK_COLUMNS = ("oracle", "oracle-native", "oracle-fd", "function", "gradcheck-fast", "gradcheck-slow")
# (numerator, denominator) of each ratio column: the checks against gradcheck, the finite differences
# alone against fast gradcheck (where the time goes), and the checks against the Function itself.
CHECK_RATIOS = (
    ("oracle", "gradcheck-slow"), ("oracle", "gradcheck-fast"), ("oracle-native", "gradcheck-fast"),
    ("oracle-fd", "gradcheck-fast"), ("oracle", "function"), ("oracle-native", "function"),
)


def _checking_table(runs: Sequence[Run]) -> list[str]:
    multi = len(runs) > 1
    header = ["function", "numel"] + (["run"] if multi else []) + list(CHECK_COLUMNS) + [f"{a} / {b}" for a, b in CHECK_RATIOS]
    rows = []
    functions: dict[str, None] = {}
    for run in runs:
        for f in run.functions("check"):
            functions.setdefault(f)
    for function in functions:
        sizes = sorted({n for run in runs for n in run.values("numel", measure="check", function=function)})
        for n in sizes:
            for run in runs:
                med = {i: _median_of(run, "check", function, i, n, "cpu") for i in CHECK_COLUMNS}
                if all(v is None for v in med.values()):
                    continue
                rows.append(
                    [function, str(n)] + ([run.label] if multi else []) + [fmt_time(med[i]) for i in CHECK_COLUMNS]
                    + [fmt_ratio(ratio(med[a], med[b])) for a, b in CHECK_RATIOS]
                )
    return _table(header, rows)


STRICT_COLUMNS = ("oracle-strict", "oracle-native-strict", "function", "gradcheck-fast")
STRICT_RATIOS = (
    ("oracle-strict", "gradcheck-fast"), ("oracle-native-strict", "gradcheck-fast"),
    ("oracle-strict", "function"), ("oracle-native-strict", "function"),
)


def _strict_table(runs: Sequence[Run]) -> list[str]:
    """The two whole checks with strict_first on, beside what they are measured against."""
    multi = len(runs) > 1
    header = ["function", "numel"] + (["run"] if multi else []) + list(STRICT_COLUMNS) + [f"{a} / {b}" for a, b in STRICT_RATIOS]
    rows = []
    functions = dict.fromkeys(f for run in runs for f in run.functions("check"))
    for function in functions:
        for n in sorted({n for run in runs for n in run.values("numel", measure="check", function=function)}):
            for run in runs:
                med = {i: _median_of(run, "check", function, i, n, "cpu") for i in STRICT_COLUMNS}
                if med["oracle-strict"] is None and med["oracle-native-strict"] is None:
                    continue
                rows.append(
                    [function, str(n)] + ([run.label] if multi else []) + [fmt_time(med[i]) for i in STRICT_COLUMNS]
                    + [fmt_ratio(ratio(med[a], med[b])) for a, b in STRICT_RATIOS]
                )
    return _table(header, rows)


def _drawing_table(runs: Sequence[Run]) -> list[str]:
    impls = ("filled", "elementwise", "randn")
    multi = len(runs) > 1
    header = ["numel"] + (["run"] if multi else []) + list(impls) + ["filled / randn", "filled - randn"]
    rows = []
    sizes = sorted({n for run in runs for n in run.values("numel", measure="draw")})
    for n in sizes:
        for run in runs:
            for function in run.functions("draw"):
                med = {i: _median_of(run, "draw", function, i, n, "cpu") for i in impls}
                extra = "—" if med["filled"] is None or med["randn"] is None else fmt_time(med["filled"] - med["randn"])
                rows.append(
                    [fmt_numel(n)] + ([run.label] if multi else []) + [fmt_time(med[i]) for i in impls]
                    + [fmt_ratio(ratio(med["filled"], med["randn"])), extra]
                )
    return _table(header, rows)


def _failing_run_table(runs: Sequence[Run]) -> list[str]:
    impls = ("sign-flipped", "correct")
    rows = []
    for run in runs:
        for function in run.functions("gate-run"):
            med = {i: _median_of(run, "gate-run", function, i, 0, "cpu") for i in impls}
            rows.append([run.label, function] + [fmt_time(med[i]) for i in impls] + [fmt_ratio(ratio(med["sign-flipped"], med["correct"]))])
    return _table(("run", "function", "gate over the sign-flipped Function", "gate over its correct twin", "ratio"), rows)


def _targets_section(runs: Sequence[Run], device: str) -> list[str]:
    results = [t for run in runs for t in evaluate_targets(run, device)]
    multi = len(runs) > 1
    header = (["run"] if multi else []) + ["target", "function", "against", "measured", "target value", "status", "reason if missed"]
    rows = [
        ([t.run] if multi else []) + [t.target, t.function, t.against, t.measured, t.limit, t.status, t.reason] for t in results
    ]
    summary = []
    for run in runs:
        mine = [t for t in results if t.run == run.label]
        missed = [t for t in mine if t.met is False]
        line = f"{len(mine) - len(missed)} of {len(mine)} targets met" + (
            f"; missed: {', '.join(sorted({f'{t.target} ({t.function})' for t in missed}))}." if missed else "."
        )
        summary += [f"- {run.label}: {line}" if multi else line]
    return summary + [""] + _table(header, rows)


def build_markdown(
    runs: Sequence[Run], plot_name: str | None = "benchmarks.png", device: str = "cpu", *, checks_plot_name: str | None = None
) -> str:
    """The whole report for these runs (all on ``device`` for the time and memory tables), with the
    fwd+bwd plot and the checks' plot where their file names are given."""
    lines = [
        "# Benchmarks: custom Functions vs native, the gate's oracle vs gradcheck",
        "",
        "Generated by `python -m benchmarks.report` from pytest-benchmark JSON (`tox -e bench`). Times are",
        f"medians of forward + backward (`torch.autograd.grad` with a fixed cotangent), float32, device `{device}`;",
        "ratios are custom / native. Saved bytes are the distinct storages autograd",
        "saves for backward (`torch.autograd.graph.saved_tensors_hooks`). Checking costs are float64 on the CPU.",
        "",
        "## Runs",
        "",
        *_runs_table(runs),
        "",
        "## Headline",
        "",
        "Time ratio at the largest size (1M elements), the fixed overhead at 1 element (custom minus native",
        "median), and the saved-bytes ratio at the largest size.",
        "",
        *_headline(runs, device),
        "",
        "## Targets",
        "",
        *_targets_section(runs, device),
    ]
    if plot_name:
        lines += ["", "## Plot", "", f"![time against size, custom vs native, log-log]({plot_name})"]
    lines += ["", "## Time and saved bytes per Function", *_function_tables(runs, device)]
    lines += ["", "## Saved-activation memory (largest size)", "", *_memory_table(runs, device)]
    lines += [
        "",
        "## The cost of checking: the gate's checks vs gradcheck",
        "",
        "Float64, one example each, 10 to 10^6 elements. `oracle`: the gate's finite-difference check as",
        "`vjp_finite_differences` runs it (one backward, the sensitivities |J|ᵀ|u| of the tolerance, then",
        "`finite_difference_slope`: five float64 forwards). `oracle-native`: `vjp_native`'s check (the Function's",
        "VJP, the reference's in the argument dtype and in float64, the same sensitivities). The sensitivities come",
        "from the reference's dense Jacobian for small tensors and from magnitudes propagated op by op past",
        "`DENSE_JACOBIAN_LIMIT`. `oracle-fd`: the finite differences alone (sensitivities computed beforehand,",
        "untimed). `function`: the Function's own forward plus backward. `gradcheck-fast` / `gradcheck-slow`:",
        "`torch.autograd.gradcheck` defaults; slow mode is stopped above 1000 elements (numel^2: over a minute).",
        "A dash: not run (slow gradcheck past 1000, or a reference the propagation cannot size, skipped with the op named).",
        "These sized checks are what the gate runs on an example its strict pass does not judge clean (below), or on",
        "every example with `AUTOGRAD_PROPS_STRICT_FIRST=0`; the checking targets are the strict checks'.",
        "",
        *_checking_table(runs),
        "",
        "### The same checks judged strictly first",
        "",
        "`oracle-strict` and `oracle-native-strict`: the two checks above as a property runs them by default",
        "(`strict_first.py`; `AUTOGRAD_PROPS_STRICT_FIRST=0` turns it off): first with zero magnitudes on copies",
        "of the example, sized only when that is not clean. Each benchmarked example is clean, so this is what a",
        "passing example costs; issue 17's targets (at 1,000 elements against gradcheck, at 10^6 against the Function) are these columns'.",
        "",
        *_strict_table(runs),
        "",
        *(["![the checks' time against size, log-log, with drawing one tensor](" + checks_plot_name + ")", ""] if checks_plot_name else []),
        "## The cost of drawing an example",
        "",
        "One float32 tensor of the given size, 1-D. `filled`: `large_tensors.filled_tensors` (a drawn palette, seed",
        "and placed values; the fill by `torch.randint` and `index_select`). `elementwise`: `strategies.tensors`, every",
        "element drawn by Hypothesis (up to 10^4, with Hypothesis's 8 KiB cap on a test case lifted: inside a test it",
        "cannot draw even 500 float32 elements). `randn`: `torch.randn`, the floor.",
        "",
        *_drawing_table(runs),
        "",
        "## The cost of a failing run",
        "",
        "`python -m autograd_props` under `CI=true` (`ci` profile: the first failure of each spec x property shrunk",
        "fully, the rest within a budget), every property and dtype, two xdist workers, one run each, back to back:",
        "the corpus's softplus with its backward's sign flipped, which fails most properties, and its correct twin.",
        "",
        *_failing_run_table(runs),
        "",
    ]
    return "\n".join(lines)
