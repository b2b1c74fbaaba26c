"""The verification report: the spec x property matrix, notes, failures; markdown and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from autograd_props.properties import PROPERTY_NAMES
from autograd_props.results import NOT_CLAIMED, OUTCOMES, RAN, CellResult

__all__ = ["merge", "summary_lines", "write_placeholder", "write_report"]

# A merged cell shows its most telling outcome: a failure first, then an unexpected pass, an
# expected failure, a pass, and last the reasons a cell did not run.
RANK = {outcome: i for i, outcome in enumerate(OUTCOMES)}
_SHORT_DTYPE = {"float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16"}


def merge(cells: list[CellResult]) -> dict[str, Any]:
    outcome = min((c.outcome for c in cells), key=RANK.__getitem__)
    ran = [c for c in cells if c.outcome in RAN]
    return {
        "outcome": outcome,
        "reasons": sorted({c.reason for c in cells if c.reason and c.outcome == outcome}),
        "examples": sum(c.examples for c in ran),
        "dtypes": sorted({c.dtype for c in ran}),
        "devices": sorted({c.device for c in ran}),
        "worst_margin": max((c.worst_margin for c in ran if c.worst_margin is not None), default=None),
        "failures": [c.key for c in cells if c.outcome == "failed"],
        "ran": len(ran),
        "first_failure": min((c.first_failure for c in cells if c.first_failure is not None), default=None),
        "notes": _summed_notes(ran),
        "cached": sum(1 for c in ran if c.cached),  # passes reused from the verdict cache
        "cached_since": min((c.cached for c in ran if c.cached), default=None),
    }


def _summed_notes(cells: list[CellResult]) -> dict[str, int]:
    notes: dict[str, int] = {}
    for cell in cells:
        for note, count in cell.notes.items():
            notes[note] = notes.get(note, 0) + count
    return notes


def _not_claimed(cell: dict[str, Any]) -> bool:
    """Every example found the property's subject disclaimed (and refused as it must be)."""
    claimed = sum(n for note, n in cell["notes"].items() if note.startswith(NOT_CLAIMED))
    return cell["outcome"] == "passed" and cell["examples"] > 0 and claimed >= cell["examples"]


def _matrix(results: Iterable[CellResult]) -> tuple[list[str], list[str], dict[tuple[str, str], dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[CellResult]] = {}
    for r in results:
        grouped.setdefault((r.spec, r.prop), []).append(r)
    specs = list(dict.fromkeys(k[0] for k in grouped))
    order = {p: i for i, p in enumerate(PROPERTY_NAMES)}
    props = sorted(dict.fromkeys(k[1] for k in grouped), key=lambda p: order.get(p, len(order)))
    return specs, props, {k: merge(v) for k, v in grouped.items()}


def _cell_text(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    o = cell["outcome"]
    dtypes = sorted(cell["dtypes"], key=lambda d: list(_SHORT_DTYPE).index(d) if d in _SHORT_DTYPE else len(_SHORT_DTYPE))
    coverage = " ".join(_SHORT_DTYPE.get(d, d) for d in dtypes) + "; " + " ".join(cell["devices"])
    if _not_claimed(cell):
        return f"pass, not claimed ({cell['examples']} ex; {coverage})"
    if o == "passed":
        margin = "not measured" if cell["worst_margin"] is None else f"{cell['worst_margin']:.2g}"
        cached = _cached_text(cell)
        return f"pass ({cached}{cell['examples']} ex, margin {margin}; {coverage})"
    if o in ("xfailed", "xpassed"):
        return f"{o} ({cell['examples']} ex; {coverage})"
    if o == "failed":
        first = f"; first failure at example {cell['first_failure']}" if cell["first_failure"] else ""
        return f"**FAIL** ({len(cell['failures'])} cells{first})"
    return o


def _cached_text(cell: dict[str, Any]) -> str:
    """How many of a passing matrix cell's cells were reused from the verdict cache, and since when."""
    ran = cell["ran"]
    if not cell["cached"]:
        return ""
    if cell["cached"] >= ran:
        return f"cached, {cell['cached_since']}; "
    return f"{cell['cached']} of {ran} cells cached, {cell['cached_since']}; "


def versions() -> dict[str, str]:
    """What a report's verdicts depend on beyond the specs: the versions of Python, torch, Hypothesis."""
    import platform

    import hypothesis
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "hypothesis": hypothesis.__version__}


def report_date() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def write_placeholder(directory: Path, header: dict[str, str]) -> None:
    """A report that says a run is under way, so that a run killed outright leaves no earlier
    report looking current.  Raises OSError when the directory cannot be written."""
    directory.mkdir(parents=True, exist_ok=True)
    header = {**header, "state": "running"}
    (directory / "verification.json").write_text(json.dumps({"header": header, "matrix": {}, "cells": [], "not_run": []}, indent=2))
    lines = ["# autograd-props verification report: RUNNING", ""] + [f"- {k}: {v}" for k, v in header.items()]
    lines += ["", "This run has not finished.  If it is no longer running, it was killed before it could write its report."]
    (directory / "verification.md").write_text("\n".join(lines) + "\n")


def write_report(
    results: list[CellResult],
    directory: Path,
    header: dict[str, str],
    *,
    not_run: list[str] | None = None,
    part: dict[str, Any] | None = None,
    why_not_run: str = "interrupted",
) -> tuple[Path, Path]:
    """Write verification.json and verification.md; return their paths.

    ``not_run``: the cells of an unfinished run that did not run (None for a run that finished):
    the report then says INTERRUPTED in its title, header and JSON, with ``why_not_run`` (an
    interrupt, or a stop after the first failures: ``-x``, ``--maxfail``), and lists them.  ``part``: a
    shard's plan (``ShardPlan.to_json()`` and the run's spec order), for a report that is one part
    of a run: its title and header say so, and its JSON carries the plan for the merge.
    """
    directory.mkdir(parents=True, exist_ok=True)
    interrupted = not_run is not None
    header = {**header, "state": _state(not_run, why_not_run)}
    if part is not None:
        header["part"] = f"shard {part['index']} of {part['count']}: {len(part['owned'])} of {len(part['cells'])} cells"
    specs, props, cells = _matrix(results)
    json_path = directory / "verification.json"
    json_path.write_text(
        json.dumps(
            {
                "header": header,
                "matrix": {f"{s}::{p}": c for (s, p), c in cells.items()},
                "cells": [r.to_json() for r in results],
                "not_run": list(not_run or []),
                **({"part": part} if part is not None else {}),
            },
            indent=2,
        )
    )
    title = "# autograd-props verification report"
    if part is not None:
        title += f": PART {part['index']} of {part['count']}"
    lines = [title + (f": INTERRUPTED ({why_not_run})" if interrupted else ""), ""]
    lines += [f"- {k}: {v}" for k, v in header.items()]
    lines += [
        "",
        "Each cell: outcome over all dtypes and devices run, examples that passed, and the worst margin "
        "(largest error / its tolerance; a failure is above 1).",
        "",
        "| spec | " + " | ".join(props) + " |",
        "|---" * (len(props) + 1) + "|",
    ]
    for s in specs:
        row = []
        for p in props:
            cell = cells.get((s, p))
            text = _cell_text(cell)
            if cell and cell["outcome"] == "failed":
                text = f"[{text}](#failure-{s}-{p})"
            elif cell and cell["outcome"] in RAN and cell["notes"]:
                text = f"[{text}](#seen-{s}-{p})"
            elif cell and cell["outcome"] not in ("passed", "failed"):
                text = f"[{text}](#note-{s}-{p})"
            row.append(text)
        lines.append(f"| {s} | " + " | ".join(row) + " |")
    lines += _notes(results)
    lines += _observations(specs, props, cells)
    lines += _failures(results)
    if not_run:
        lines += ["", f"## Cells that did not run ({why_not_run})", "", *(f"- `{key}`" for key in not_run)]
    md_path = directory / "verification.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path


def _state(not_run: list[str] | None, why: str) -> str:
    if not_run is None:
        return "complete"
    return f"interrupted: {len(not_run)} cells did not run" + ("" if why == "interrupted" else f" ({why})")


def _notes(results: list[CellResult]) -> list[str]:
    """Every cell that did not simply pass or fail: opt-outs, not applicable, skips, xfails."""
    grouped: dict[tuple[str, str, str, str], list[CellResult]] = {}
    for r in results:
        if r.outcome not in ("passed", "failed"):
            grouped.setdefault((r.spec, r.prop, r.outcome, r.reason), []).append(r)
    if not grouped:
        return []
    lines = ["", "## Opt-outs, expected failures, and cells that did not run", ""]
    anchored = set()
    for (spec, prop, outcome, reason), cells in grouped.items():
        anchor = "" if (spec, prop) in anchored else f'<a id="note-{spec}-{prop}"></a>'
        anchored.add((spec, prop))
        where = ", ".join(f"{c.dtype}/{c.device}" for c in cells)
        label = "" if outcome in ("opted-out", "not-applicable") else f"{outcome}: "  # their reasons say so
        lines.append(f"- {anchor}{spec} / {prop} ({where}): {label}{reason}")
        reproducer = next((c.reproducer for c in cells if c.reproducer), "")
        if reproducer:
            code = reproducer.splitlines()
            lines += ["", "  <details><summary>reproducer</summary>", "", "  ```python", *(f"  {x}" for x in code), "  ```", "  </details>", ""]
    return lines


def _observations(specs: list[str], props: list[str], cells: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """What passing cells noted: a capability not claimed, a point left to another oracle."""
    lines = []
    for s in specs:
        for p in props:
            cell = cells.get((s, p))
            if not cell or not cell["notes"] or cell["outcome"] not in RAN:
                continue
            lines.append(f'- <a id="seen-{s}-{p}"></a>{s} / {p}:')
            lines += [f"  - {note}" + (f" ({count} of {cell['examples']} examples)" if count else "") for note, count in cell["notes"].items()]
    return ["", "## What the examples showed", "", *lines] if lines else []


def _failures(results: list[CellResult]) -> list[str]:
    """Each failing cell: its message, its reproducer, then the full output folded away.  A cell
    whose failure is the same as an earlier one of its spec gets one line pointing at it."""
    failures = [r for r in results if r.outcome == "failed"]
    if not failures:
        return []
    lines = ["", "## Failures", ""]
    anchored = set()
    first_of: dict[tuple, str] = {}
    for r in failures:
        if (r.spec, r.prop) not in anchored:  # the matrix cell links to its first failing dtype/device
            lines.append(f'<a id="failure-{r.spec}-{r.prop}"></a>')
            anchored.add((r.spec, r.prop))
        signature = r.failure_signature
        if signature in first_of:
            lines += [f"- `{r.key}`: the same failure as `{first_of[signature]}` above", ""]
            continue
        first_of[signature] = r.key
        lines += [f"### {r.spec} / {r.prop} ({r.dtype}, {r.device})", "", f"`{r.key}`" + (f" (pytest: `{r.test_id}`)" if r.test_id else ""), ""]
        if r.shrunk is False:
            lines += ["The example below is as found, not shrunk: shrinking went to the first failing cell of this "
                      "spec and property (`--full-shrink` shrinks every cell).", ""]
        for n, failure in enumerate(r.failures, 1):
            if len(r.failures) > 1:
                lines += [f"Distinct failure {n} of {len(r.failures)}:", ""]
            lines += ["```", failure.error, "```", ""]
            if failure.reproducer:
                lines += [f"Example shapes: {failure.shapes}", "", "Reproduce with:", "", "```python", *failure.reproducer.splitlines(), "```", ""]
        if r.output:
            lines += ["<details><summary>full failure output</summary>", "", "```", r.output.strip(), "```", "</details>", ""]
    return lines


def _symbol_of(cell: dict[str, Any]) -> str:
    """A matrix cell whose every cell that ran is a pass reused from the cache shows as cached."""
    if cell["outcome"] == "passed" and cell["ran"] and cell["cached"] >= cell["ran"]:
        return "cached"
    return cell["outcome"]


def summary_lines(results: list[CellResult]) -> list[str]:
    """The matrix compactly, one line per spec, for the terminal summary."""
    specs, props, cells = _matrix(results)
    symbol = {"cached": "c", "passed": ".", "failed": "F", "xfailed": "x", "xpassed": "X", "opted-out": "o", "not-applicable": "n", "skipped": "s"}
    width = max((len(s) for s in specs), default=4)
    lines = [" " * width + "  " + " ".join(f"{i:>2}" for i in range(1, len(props) + 1))]
    for s in specs:
        marks = " ".join(f"{symbol[_symbol_of(cells[(s, p)])] if (s, p) in cells else '-':>2}" for p in props)
        lines.append(f"{s:<{width}}  {marks}")
    lines.append("properties: " + ", ".join(f"{i}={p}" for i, p in enumerate(props, 1)))
    lines.append("legend: . pass  c pass reused from the verdict cache  F fail  x expected failure  X unexpected pass  o opted out  n not applicable  s skipped")
    cached = [r for r in results if r.cached]
    if cached:
        since = min(r.cached for r in cached)
        lines.append(
            f"verdict cache: {len(cached)} of {len(results)} cells passed (cached, since {since}): unchanged since they "
            "passed, not run again (--no-cache runs them)"
        )
    failing = [f"{s}/{p} (#failure-{s}-{p})" for (s, p), c in cells.items() if c["outcome"] == "failed"]
    if failing:
        lines.append("failing cells, each with its reproducer in the report under the anchor: " + ", ".join(failing))
    return lines
