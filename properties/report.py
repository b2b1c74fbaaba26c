"""Failure reproducers and the verification report (spec x property matrix)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from funcs.spec import PROPERTIES

__all__ = ["CellResult", "REPRODUCER_PREFIX", "literal", "reproducer", "write_report", "summary_lines"]

# How every reproducer note begins; conftest finds the note on a failure by it.
REPRODUCER_PREFIX = "autograd-props: property "


def _number(x: float) -> str:
    if math.isnan(x):
        return "float('nan')"
    if math.isinf(x):
        return "float('inf')" if x > 0 else "-float('inf')"
    return repr(x)


def _nested(values: Any) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return _number(float(values))


def literal(value: Any) -> str:
    """Python source that rebuilds ``value`` exactly (tensors included)."""
    if isinstance(value, torch.Tensor):
        meta = f"dtype={value.dtype}, device={str(value.device)!r}"
        if value.numel() == 0:
            return f"torch.empty({tuple(value.shape)}, {meta})"
        return f"torch.tensor({_nested(value.detach().cpu().tolist())}, {meta})"
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, torch.dtype):
        return str(value)
    return repr(value)


@contextlib.contextmanager
def reproducer(case: Any, check: str, kwargs: dict[str, Any]) -> Iterator[None]:
    """Attach a pasteable reproducer (PEP 678 note) to any exception raised in the block."""
    try:
        yield
    except Exception as exc:
        module, _, function = check.partition(":")
        call_args = "".join(f",\n    {k}={literal(v)}" for k, v in kwargs.items())
        _add_note(
            exc,
            f"{REPRODUCER_PREFIX}{case.prop!r} failed for spec {case.spec.name!r} "
            f"({str(case.dtype).removeprefix('torch.')}, {case.device}); shapes: {_shapes(kwargs)}\n"
            f"Reproduce with:\n"
            f"import torch\nfrom funcs import spec_named\nfrom {module} import {function}\n"
            f"spec = spec_named({case.source!r}, {case.spec.name!r})\n"
            f"{function}(spec{call_args})",
        )
        raise


def _add_note(exc: BaseException, note: str) -> None:
    """BaseException.add_note, which Python 3.10 lacks (pytest and Hypothesis read __notes__ there too)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]


def _shapes(kwargs: dict[str, Any]) -> str:
    def shape(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return tuple(v.shape)
        if isinstance(v, (tuple, list)):
            return [shape(x) for x in v]
        return type(v).__name__

    return ", ".join(f"{k}={shape(v)}" for k, v in kwargs.items())


@dataclasses.dataclass
class CellResult:
    """One test outcome: (spec, property, dtype, device)."""

    spec: str
    prop: str
    dtype: str
    device: str
    outcome: str  # passed | failed | xfailed | xpassed | opted-out | not-applicable | skipped
    reason: str = ""
    examples: int = 0
    worst_margin: float = 0.0
    first_failure: int | None = None  # examples up to and including the first failing one
    nodeid: str = ""
    failure: str = ""
    reproducer: str = ""  # the pasteable reproducer of a failing (or xfailed) cell
    error: str = ""  # the failure's one-line message


# A merged cell shows its most telling outcome: a failure first, then an unexpected pass, an
# expected failure, a pass, and last the reasons a cell did not run.
_RANK = {"failed": 0, "xpassed": 1, "xfailed": 2, "passed": 3, "opted-out": 4, "not-applicable": 5, "skipped": 6}
_RAN = ("passed", "failed", "xfailed", "xpassed")
_SHORT_DTYPE = {"float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16"}


def _merge(cells: list[CellResult]) -> dict[str, Any]:
    outcome = min((c.outcome for c in cells), key=_RANK.__getitem__)
    ran = [c for c in cells if c.outcome in _RAN]
    return {
        "outcome": outcome,
        "reasons": sorted({c.reason for c in cells if c.reason and c.outcome == outcome}),
        "examples": sum(c.examples for c in ran),
        "dtypes": sorted({c.dtype for c in ran}),
        "devices": sorted({c.device for c in ran}),
        "worst_margin": max((c.worst_margin for c in ran), default=0.0),
        "failures": [c.nodeid for c in cells if c.outcome == "failed"],
        "first_failure": min((c.first_failure for c in cells if c.first_failure is not None), default=None),
    }


def _matrix(results: Iterable[CellResult]) -> tuple[list[str], list[str], dict[tuple[str, str], dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[CellResult]] = {}
    for r in results:
        grouped.setdefault((r.spec, r.prop), []).append(r)
    specs = list(dict.fromkeys(k[0] for k in grouped))
    order = {p: i for i, p in enumerate(PROPERTIES)}
    props = sorted(dict.fromkeys(k[1] for k in grouped), key=lambda p: order.get(p, len(order)))
    return specs, props, {k: _merge(v) for k, v in grouped.items()}


def _cell_text(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    o = cell["outcome"]
    dtypes = sorted(cell["dtypes"], key=lambda d: list(_SHORT_DTYPE).index(d) if d in _SHORT_DTYPE else len(_SHORT_DTYPE))
    coverage = " ".join(_SHORT_DTYPE.get(d, d) for d in dtypes) + "; " + " ".join(cell["devices"])
    if o == "passed":
        return f"pass ({cell['examples']} ex, margin {cell['worst_margin']:.2g}; {coverage})"
    if o in ("xfailed", "xpassed"):
        return f"{o} ({cell['examples']} ex; {coverage})"
    if o == "failed":
        first = f"; first failure at example {cell['first_failure']}" if cell["first_failure"] else ""
        return f"**FAIL** ({len(cell['failures'])} cells{first})"
    return o


def write_report(results: list[CellResult], directory: Path, header: dict[str, str]) -> tuple[Path, Path]:
    """Write verification.json and verification.md; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    specs, props, cells = _matrix(results)
    json_path = directory / "verification.json"
    json_path.write_text(
        json.dumps(
            {
                "header": header,
                "matrix": {f"{s}::{p}": c for (s, p), c in cells.items()},
                "cells": [dataclasses.asdict(r) for r in results],
            },
            indent=2,
        )
    )
    lines = ["# autograd-props verification report", ""]
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
            elif cell and cell["outcome"] not in ("passed", "failed"):
                text = f"[{text}](#note-{s}-{p})"
            row.append(text)
        lines.append(f"| {s} | " + " | ".join(row) + " |")
    lines += _notes(results)
    lines += _failures(results)
    md_path = directory / "verification.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path


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
            lines += ["", "  <details><summary>reproducer</summary>", "", "  ```python", *(f"  {x}" for x in _code(reproducer)), "  ```", "  </details>", ""]
    return lines


def _code(reproducer: str) -> list[str]:
    """The pasteable lines of a reproducer note (after its 'Reproduce with:' line)."""
    _, _, code = reproducer.partition("Reproduce with:\n")
    return (code or reproducer).splitlines()


def _failures(results: list[CellResult]) -> list[str]:
    """Each failing cell: its message, its reproducer, then the full output folded away."""
    failures = [r for r in results if r.outcome == "failed"]
    if not failures:
        return []
    lines = ["", "## Failures", ""]
    anchored = set()
    for r in failures:
        if (r.spec, r.prop) not in anchored:  # the matrix cell links to its first failing dtype/device
            lines.append(f'<a id="failure-{r.spec}-{r.prop}"></a>')
            anchored.add((r.spec, r.prop))
        lines += [f"### {r.spec} / {r.prop} ({r.dtype}, {r.device})", "", f"`{r.nodeid}`", ""]
        if r.error:
            lines += ["```", r.error, "```", ""]
        if r.reproducer:
            lines += ["Reproduce with:", "", "```python", *_code(r.reproducer), "```", ""]
        lines += ["<details><summary>full failure output</summary>", "", "```", r.failure.strip(), "```", "</details>", ""]
    return lines


def summary_lines(results: list[CellResult]) -> list[str]:
    """The matrix compactly, one line per spec, for the terminal summary."""
    specs, props, cells = _matrix(results)
    symbol = {"passed": ".", "failed": "F", "xfailed": "x", "xpassed": "X", "opted-out": "o", "not-applicable": "n", "skipped": "s"}
    width = max((len(s) for s in specs), default=4)
    lines = [" " * width + "  " + " ".join(f"{i:>2}" for i in range(1, len(props) + 1))]
    for s in specs:
        marks = " ".join(f"{symbol[cells[(s, p)]['outcome']] if (s, p) in cells else '-':>2}" for p in props)
        lines.append(f"{s:<{width}}  {marks}")
    lines.append("properties: " + ", ".join(f"{i}={p}" for i, p in enumerate(props, 1)))
    lines.append("legend: . pass  F fail  x expected failure  X unexpected pass  o opted out  n not applicable  s skipped")
    failing = [f"{s}/{p} (#failure-{s}-{p})" for (s, p), c in cells.items() if c["outcome"] == "failed"]
    if failing:
        lines.append("failing cells, each with its reproducer in the report under the anchor: " + ", ".join(failing))
    return lines
