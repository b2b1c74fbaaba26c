"""``check()``: the gate from Python, outside pytest (notebooks, scripts), in the spirit of gradcheck.

    >>> import autograd_props
    >>> report = autograd_props.check(SPEC, properties=["vjp_native", "forward_ad"])
    >>> report.outcomes
    {'vjp_native': 'passed', 'forward_ad': 'passed'}

A failing property raises :class:`CheckFailure` with the reproducer the pytest gate prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
import torch
from hypothesis import settings

from autograd_props.cell import Cell, failures_of
from autograd_props.devices import parse_devices
from autograd_props.loading import unique
from autograd_props.plugin.report import merge, report_date, versions, write_report
from autograd_props.plugin.session import Sourced, specs_from
from autograd_props.profiles import default_profile, draws_large, gate_settings
from autograd_props.properties import PROPERTY_NAMES, REGISTRY, validate_opt_outs
from autograd_props.results import CellResult, Failure
from autograd_props.runner import DEFAULT_EXAMPLE_TIMEOUT, Budget, plan, run_cell
from autograd_props.spec import FunctionSpec, SpecError
from autograd_props.spec_mistakes import SpecMistake

__all__ = ["CheckFailure", "CheckReport", "check"]


@dataclasses.dataclass
class CheckReport:
    """Every cell :func:`check` ran or skipped, and one outcome per property."""

    cells: list[CellResult]

    @property
    def outcomes(self) -> dict[str, str]:
        """Property name -> its most telling outcome over specs, dtypes and devices (per spec:
        :attr:`by_spec`; per cell: :attr:`by_cell`)."""
        by_prop: dict[str, list[CellResult]] = {}
        for cell in self.cells:
            by_prop.setdefault(cell.prop, []).append(cell)
        return {prop: merge(cells)["outcome"] for prop, cells in by_prop.items()}

    @property
    def by_spec(self) -> dict[str, dict[str, str]]:
        """Spec name -> property name -> its most telling outcome over dtypes and devices."""
        grouped: dict[str, dict[str, list[CellResult]]] = {}
        for cell in self.cells:
            grouped.setdefault(cell.spec, {}).setdefault(cell.prop, []).append(cell)
        return {spec: {prop: merge(cells)["outcome"] for prop, cells in props.items()} for spec, props in grouped.items()}

    @property
    def by_cell(self) -> dict[str, str]:
        """Cell key (``property[spec-dtype-device]``) -> its outcome."""
        return {cell.key: cell.outcome for cell in self.cells}

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.outcome == "failed"]

    def __str__(self) -> str:
        return "\n".join(f"{prop}: {outcome}" for prop, outcome in self.outcomes.items())


class CheckFailure(AssertionError):
    """At least one property failed; ``report`` has every cell, ``failures`` the failing ones."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        failed = report.failed
        first = failed[0]
        lines = [f"autograd-props: {len(failed)} of {len(report.cells)} cells failed: {', '.join(c.key for c in failed)}", ""]
        for n, failure in enumerate(first.failures, 1):
            lines += [f"{first.key}: {failure.error}"]
            if failure.reproducer:
                lines += [f"example shapes: {failure.shapes}", "Reproduce with:", failure.reproducer, ""]
        super().__init__("\n".join(lines))


def _specs(specs: str | FunctionSpec | Iterable[FunctionSpec]) -> tuple[Sourced, ...]:
    if isinstance(specs, str):
        return specs_from((specs,))
    items = (specs,) if isinstance(specs, FunctionSpec) else tuple(specs)
    for i, spec in enumerate(items):
        if not isinstance(spec, FunctionSpec):
            raise TypeError(f"check: specs[{i}] is a {type(spec).__name__}, not a FunctionSpec")
    return tuple(Sourced(validate_opt_outs(s), None) for s in unique(items, "check(...)"))


def check(
    specs: str | FunctionSpec | Iterable[FunctionSpec],
    *,
    properties: Sequence[str] | None = None,
    dtypes: Sequence[torch.dtype] | None = None,
    devices: str | Sequence[str] | None = None,
    profile: str | None = None,
    max_examples: int | None = None,
    report_dir: str | Path | None = None,
    raise_on_failure: bool = True,
    full_shrink: bool = False,
    example_timeout: float | None = DEFAULT_EXAMPLE_TIMEOUT,
) -> CheckReport:
    """Run properties over specs, outside pytest; return a report or raise :class:`CheckFailure`.

    ``specs``: a FunctionSpec, an iterable of them, or a source string (``"pkg.module[:ATTR]"``).
    ``properties``: names from ``autograd_props.PROPERTY_NAMES`` (default: all).  ``dtypes``:
    restrict to these of each spec's dtypes.  ``devices``: ``"cpu,cuda"`` or a list (default:
    every available one).  ``profile``: a Hypothesis profile name (default:
    ``autograd-props-ci`` when ``CI`` is set, else ``autograd-props-dev``); ``max_examples``
    overrides its budget.  ``report_dir``: also write verification.md and verification.json there.
    ``full_shrink``: shrink every failing cell, without a time bound (default: the first of each
    spec and property, for at most the time ``max_examples`` of its examples took).
    ``example_timeout``: seconds one example may take (None: no limit; the limit needs the main
    thread).
    """
    names = list(PROPERTY_NAMES if properties is None else properties)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"check: properties={list(properties)!r}: unknown {unknown}; known: {', '.join(PROPERTY_NAMES)}")
    device_list = parse_devices(devices if devices is None or isinstance(devices, str) else ",".join(devices))
    hypothesis_settings = gate_settings(profile)
    if max_examples is not None:
        hypothesis_settings = settings(hypothesis_settings, max_examples=max_examples)
    budget = Budget(hypothesis_settings, shrink_all=full_shrink, example_timeout=example_timeout, large_sizes=draws_large(profile))
    cells = []
    for item in _specs(specs):
        for name in names:
            for cell in plan(REGISTRY[name], [item.spec], device_list, source=item.source):
                if dtypes is None or cell.dtype in dtypes:
                    cells.append(_run(cell, budget))
    report = CheckReport(cells)
    if report_dir is not None:
        header = {"specs from": f"check({', '.join(unique_names(cells))})", **versions(), "profile": hypothesis_settings_name(profile),
                  "devices": ", ".join(device_list), "date": report_date()}
        write_report(cells, Path(report_dir), header)
    if report.failed and raise_on_failure:
        raise CheckFailure(report)
    return report


def unique_names(cells: list[CellResult]) -> list[str]:
    return list(dict.fromkeys(c.spec for c in cells))


def hypothesis_settings_name(profile: str | None) -> str:
    return profile or default_profile()


def _run(cell: Cell, budget) -> CellResult:
    result = CellResult(spec=cell.spec.name, prop=cell.prop, dtype=cell.dtype_name, device=cell.device, outcome="passed")
    if cell.skip is not None:
        result.outcome, result.reason = cell.skip.outcome, cell.skip.reason
        return result
    try:
        run_cell(cell, budget)
    except SpecMistake as mistake:  # a usage error: raised as one, not reported as the Function's failure
        raise SpecError(str(mistake)) from None
    except pytest.skip.Exception as exc:  # the cell could not run here (a kernel missing from this torch)
        result.outcome, result.reason = "skipped", str(exc.msg)
    except Exception as exc:
        result.outcome = "failed"
        result.failures = failures_of(exc) or [Failure(error=f"{type(exc).__name__}: {exc}"[:500], reproducer="", check="", shapes="")]
    result.examples, result.worst_margin = cell.examples, cell.worst_margin
    result.first_failure, result.notes = cell.first_failure, dict(cell.notes)
    result.shrunk = cell.shrunk if result.outcome == "failed" else None
    return result
