"""From pytest's reports to the verification report: each gate test's result travels as data.

``attach_cell_result`` runs where the test ran (a pytest-xdist worker, or the only process) and
puts the cell's :class:`~autograd_props.results.CellResult` on the report's ``user_properties``,
which xdist carries to the controller; :class:`VerificationCollector` gathers them there and
writes the report at the end of the run.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

from autograd_props._engine.shards import ShardPlan
from autograd_props._engine.verdict_cache import record_durations
from autograd_props.cell import Cell, cell_of, failures_of
from autograd_props.plugin.expectations import Expectation, StaleExpectationWarning
from autograd_props.plugin.incremental import CACHED_PROPERTY, FINGERPRINT_PROPERTY, select_shard, verdict_cache
from autograd_props.plugin.report import report_date, summary_lines, versions, write_placeholder, write_report
from autograd_props.plugin.report_lock import ReportDirBusy, lock_report_dir
from autograd_props.plugin.session import GateSession, session_of
from autograd_props.results import RAN, CellResult, Failure
from autograd_props.spec_mistakes import SpecMistake

__all__ = ["VerificationCollector", "apply_expectations", "attach_cell_result"]

_PROPERTY = "autograd_props"
_EXPECTATION = pytest.StashKey[Expectation]()


def apply_expectations(config: pytest.Config, gate_session: GateSession, items: list[pytest.Item]) -> None:
    """Mark the cells an expectation file lists; warn once about entries that match no cell."""
    expectations = gate_session.expectations
    used = set()
    for item in items:
        cell = cell_of(item)
        if cell is None:
            continue
        for kind in ("skip", "xfail"):
            entry = next((e for e in expectations if e.kind == kind and e.matches(cell.key)), None)
            if entry is not None:
                item.add_marker(entry.marker())
                item.stash[_EXPECTATION] = entry
                used.add(entry)
    # Under pytest-xdist every worker collects the same tests; the first one speaks for all.
    if getattr(config, "workerinput", {}).get("workerid", "gw0") != "gw0":
        return
    for entry in expectations:
        if entry not in used:
            warnings.warn(StaleExpectationWarning(f"--{entry.kind}s-file {entry.where}: {entry.pattern!r} matches no cell"))


def _outcome(item: pytest.Item, cell: Cell, call: pytest.CallInfo, report: pytest.TestReport) -> tuple[str, str]:
    entry = item.stash.get(_EXPECTATION, None)
    if hasattr(report, "wasxfail"):  # an xfail marker: xfailed, or a non-strict unexpected pass
        return ("xfailed" if report.skipped else "xpassed"), report.wasxfail
    if report.failed:
        return "failed", ""
    if report.skipped:
        if cell.skip is not None:
            return cell.skip.outcome, cell.skip.reason
        if entry is not None and entry.kind == "skip":
            return "skipped", f"--skips-file {entry.where}: {entry.reason}"
        skipped = call.excinfo.value if call.excinfo is not None else None
        return "skipped", str(getattr(skipped, "msg", "") or skipped or "")
    return "passed", ""


def attach_cell_result(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> None:
    """Put the cell's result on ``report`` (once: at the call, or at a setup that skipped)."""
    cell = cell_of(item)
    if cell is None or not (report.when == "call" or (report.when == "setup" and report.skipped)):
        return
    outcome, reason = _outcome(item, cell, call, report)
    failures = failures_of(call.excinfo.value) if call.excinfo is not None else []
    if outcome == "failed" and not failures:  # raised outside a check (a draw, a health check)
        failures = [Failure(error=_crash_line(report), reproducer="", check="", shapes="")]
    result = CellResult(
        spec=cell.spec.name,
        prop=cell.prop,
        dtype=cell.dtype_name,
        device=cell.device,
        outcome=outcome,
        reason=reason,
        examples=cell.examples,
        worst_margin=cell.worst_margin,
        first_failure=cell.first_failure,
        test_id=report.nodeid,
        failures=failures if outcome in ("failed", "xfailed") else [],
        notes=dict(cell.notes),
        shrunk=cell.shrunk if outcome in ("failed", "xfailed") else None,
        cached=cell.cached if outcome == "passed" else None,
        duration=round(report.duration, 3),
        spec_mistake=call.excinfo.value.field if call.excinfo is not None and isinstance(call.excinfo.value, SpecMistake) else None,
    )
    report.user_properties.append((_PROPERTY, result.to_json()))
    report.user_properties.append((FINGERPRINT_PROPERTY, cell.fingerprint))
    if result.cached:
        report.user_properties.append((CACHED_PROPERTY, result.cached))
    if result.spec_mistake:  # the message says all: the traceback would be the suite's own frames
        report.longrepr = f"autograd-props: a mistake in the spec, not a failure of the Function: {call.excinfo.value}"
        _drop_seed_advice(report)
    elif outcome == "failed" and not _fold_repeated_failure(item.config, result, report):
        _compact_failure(item.config, result, report)


_FIRST_FAILURES = pytest.StashKey[dict]()
_SHOWN_IN_FULL = pytest.StashKey[dict]()  # (spec, property) -> the cell whose failure was printed in full


def _fold_repeated_failure(config: pytest.Config, result: CellResult, report: pytest.TestReport) -> bool:
    """A failure identical to an earlier one of the same spec (the same error, most often one bug
    seen by every property) is printed as one line that points at the first, not in full again.
    Whether it was folded."""
    first = config.stash.setdefault(_FIRST_FAILURES, {})
    signature = result.failure_signature
    if signature not in first:
        first[signature] = result.key
        return False
    report.longrepr = f"{result.error}\n(the same failure as {first[signature]}, shown in full above and in the report)"
    return True


# Hypothesis's advice to add @seed(...) to the test: the test is the gate's, not the user's; every
# failure carries a reproducer instead.
_SEED_ADVICE = "You can reproduce this failure by adding @seed("


def _compact_failure(config: pytest.Config, result: CellResult, report: pytest.TestReport) -> None:
    """A failure printed as what a user acts on: each finding, its example's shapes and its
    reproducer.  The traceback (through the suite's own frames) and Hypothesis's account of the
    search are for ``-v`` or an explicit ``--tb``."""
    if config.option.verbose > 0 or config.option.tbstyle not in ("auto", None) or not all(f.reproducer for f in result.failures):
        return
    shown = config.stash.setdefault(_SHOWN_IN_FULL, {})
    first = shown.setdefault((result.spec, result.prop), result.key)
    if first != result.key:  # the same property of the same spec in another dtype or device: most often one bug
        report.longrepr = f"{result.error[:300]}{'...' if len(result.error) > 300 else ''}\n(as {first} above; this cell's reproducer is in the report)"
        _drop_seed_advice(report)
        return
    blocks = [f"{f.error}\nexample shapes: {f.shapes}\nReproduce with:\n{f.reproducer}" for f in result.failures]
    report.longrepr = "\n\n".join(blocks) + "\n\n(the traceback and Hypothesis's own account of the search: -v)"
    _drop_seed_advice(report)


def _drop_seed_advice(report: pytest.TestReport) -> None:
    sections = []
    for title, text in report.sections:
        kept = "\n".join(line for line in text.splitlines() if not line.startswith(_SEED_ADVICE))
        if kept.strip():
            sections.append((title, kept))
    report.sections = sections


def _crash_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr)
    return message.split("\n")[0][:500]


def _key_of(nodeid: str) -> tuple[str, str] | None:
    """(cell key, spec) of a gate test's node id (``...::test_vjp_native[softplus-float64-cpu]``), else None."""
    from autograd_props.properties import REGISTRY

    name, _, param = nodeid.rpartition("::")[2].partition("[")
    prop = name.removeprefix("test_")
    if not param or prop not in REGISTRY:
        return None
    param = param.rstrip("]")
    return f"{prop}[{param}]", param.rsplit("-", 2)[0]


class VerificationCollector:
    """Gathers one CellResult per gate test, prints a line as each spec finishes, and writes the
    report at the end of the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: list[CellResult] = []
        self.collected: dict[str, str] = {}  # cell key -> spec, for every gate cell to run
        self.fingerprints: dict[str, str | None] = {}  # cell key -> what decided its verdict
        self.shard_plan: ShardPlan | None = None  # under --shard: the cells this shard owns
        self.started = time.monotonic()
        self.nothing_ran = False
        self.interrupted = False
        self.stopped: str | None = None  # why pytest stopped before the last test (-x, --maxfail)
        self.prepared = False
        self.lock = None  # the report directory's lock (report_lock.py), held until the process ends

    @property
    def expected(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for spec in self.collected.values():
            counts[spec] = counts.get(spec, 0) + 1
        return counts

    def _collect(self, nodeids) -> None:
        for nodeid in nodeids:
            found = _key_of(nodeid)
            if found is not None:
                self.collected[found[0]] = found[1]

    @pytest.hookimpl(trylast=True)  # after -k and -m have deselected
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.shard_plan = select_shard(self.config, items)
        self._collect(item.nodeid for item in items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """A pytest-xdist worker's shard plan and gate sources (the controller collects nothing itself)."""
        gate_sources = getattr(node, "workeroutput", {}).get("autograd_props_gate_sources", [])
        session_of(self.config).gate_sources.update(dict.fromkeys(gate_sources))  # the controller collects none itself
        plan = getattr(node, "workeroutput", {}).get("autograd_props_shard")
        if plan is not None and self.shard_plan is None:
            self.shard_plan = ShardPlan.from_json(plan)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        if not self.collected:  # every worker collects the same tests; the first one counts them
            self._collect(ids)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.config.option.collectonly:  # nothing will run: the last report stays as it is
            return
        if session_of(self.config).sources and not hasattr(self.config, "workerinput"):
            from autograd_props.plugin import check_mark_expression

            check_mark_expression(self.config)  # before prepare(): a usage error leaves the last report alone
            self.prepare()  # a gate was asked for by option: its report directory is checked now

    def prepare(self) -> None:
        """Check that the report directory can be written, and mark the report as running, so that
        a run killed outright leaves no earlier report looking current."""
        if self.prepared:
            return
        self.prepared = True
        directory = self.directory
        try:
            self.lock = lock_report_dir(directory)
            write_placeholder(directory, _header(self.config))
        except ReportDirBusy as exc:
            raise pytest.UsageError(f"autograd-props: --report-dir {directory}: {exc}; wait for it, or give this run another --report-dir") from None
        except OSError as exc:
            raise pytest.UsageError(f"autograd-props: --report-dir {directory}: cannot write the report there ({exc})") from None

    @property
    def directory(self) -> Path:
        return Path(self.config.invocation_params.dir, self.config.getoption("autograd_props_report_dir"))

    def pytest_keyboard_interrupt(self, excinfo) -> None:
        self.interrupted = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = dict(report.user_properties).get(_PROPERTY)
        if data is None or not (report.when == "call" or (report.when == "setup" and report.skipped)):
            return
        if not self.prepared and not hasattr(self.config, "workerinput"):
            try:
                self.prepare()
            except pytest.UsageError as exc:
                pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
        result = CellResult.from_json(data)
        self.fingerprints[result.key] = dict(report.user_properties).get(FINGERPRINT_PROPERTY)
        if report.failed:
            result.output = report.longreprtext
        self.results.append(result)
        self._progress(result.spec)

    def _progress(self, spec: str) -> None:
        """One line when the last cell of a spec is in: long runs show where they are."""
        cells = [r for r in self.results if r.spec == spec]
        if len(cells) != self.expected.get(spec) or hasattr(self.config, "workerinput"):
            return
        failed = sum(r.outcome == "failed" for r in cells)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write("\n")  # the progress dots do not end their line
            reporter.write_line(
                f"autograd-props: {spec} done: {len(cells)} cells, {failed} failed ({time.monotonic() - self.started:.0f} s into the run)"
            )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """A gate that checked nothing does not pass: every cell skipped or opted out exits 5."""
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self.interrupted = True
        self.stopped = str(session.shouldfail or session.shouldstop or "") or None
        if hasattr(self.config, "workerinput"):
            if self.shard_plan is not None:
                self.config.workeroutput["autograd_props_shard"] = self.shard_plan.to_json()
            self.config.workeroutput["autograd_props_gate_sources"] = list(session_of(self.config).gate_sources)
            return
        if self.results:
            self._remember()
        if any(r.spec_mistake for r in self.results) and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = pytest.ExitCode.USAGE_ERROR  # the spec is wrong, not (or not only) the Function
            return
        if not self.results or exitstatus != pytest.ExitCode.OK:
            return
        if not any(r.outcome in RAN for r in self.results):
            self.nothing_ran = True
            session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        elif session_of(self.config).not_inferred():  # a discovered Function that was not checked
            session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED

    def _remember(self) -> None:
        """Store this run's passes in the verdict cache and, for an unsharded run, the cells'
        durations (which shards balance by: shard runs leave them as every shard found them)."""
        verdict_cache(self.config).record((r, self.fingerprints.get(r.key)) for r in self.results)
        if session_of(self.config).shard is None:
            record_durations(getattr(self.config, "cache", None), self.results)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if hasattr(self.config, "workerinput") or not (self.results or self.prepared):
            return
        self.results.sort(key=_report_order(session_of(self.config)))
        done = {r.key for r in self.results}
        missing = [key for key in self.collected if key not in done]
        not_run, why = None, "interrupted"
        if self.interrupted or missing:  # interrupted, stopped by -x or --maxfail, or a cell that errored
            not_run = missing
            if self.stopped:
                why = f"pytest stopped early: {self.stopped}"
            elif not self.interrupted:
                why = "cells left without a result"
        part = None
        if self.shard_plan is not None:
            part = {**self.shard_plan.to_json(), "specs": _spec_order(session_of(self.config))}
        json_path, md_path = write_report(self.results, self.directory, _header(self.config), not_run=not_run, part=part, why_not_run=why)
        terminalreporter.section("autograd-props verification matrix")
        for line in summary_lines(self.results):
            terminalreporter.write_line(line)
        off = verdict_cache(self.config).off_because
        if off is not None:
            terminalreporter.write_line(f"autograd-props: verdict cache off: {off}")
        if part is not None:
            terminalreporter.write_line(
                f"autograd-props: shard {self.shard_plan.shard}: {len(self.shard_plan.owned)} of {len(self.shard_plan.cells)} cells; "
                "`autograd-props merge` joins the parts' report directories into one report"
            )
        terminalreporter.write_line(f"report: {md_path} and {json_path}")
        if not_run is not None:
            terminalreporter.write_line(
                f"autograd-props: the run was INTERRUPTED ({why}): {len(not_run)} of {len(self.collected)} cells did not run; "
                "the report says so and lists them",
                red=True,
            )
        for line in session_of(self.config).not_inferred():
            terminalreporter.write_line(f"autograd-props: {line}", red=True)
        for spec, error in _spec_mistakes(self.results).items():
            terminalreporter.write_line(f"autograd-props: a mistake in spec {spec!r}, not a failure of its Function (exit 4): {error}", red=True)
        if self.nothing_ran:
            terminalreporter.write_line(
                f"autograd-props: no cell ran ({len(self.results)} skipped, opted out or not applicable): "
                "a gate that checked nothing does not pass (exit code 5)",
                red=True,
            )


def _spec_mistakes(results: list[CellResult]) -> dict[str, str]:
    """The first mistake found in each spec that has one."""
    found: dict[str, str] = {}
    for r in results:
        if r.spec_mistake and r.spec not in found:
            found[r.spec] = r.error.partition(": ")[2] or r.error
    return found


def _spec_order(gate_session: GateSession) -> list[str]:
    """The specs as the session loaded them, then those its gate classes were given."""
    from autograd_props.loading import SpecSourceError

    try:  # the controller of an xdist run collects nothing: it knows the session's specs only
        names = [item.spec.name for item in gate_session.session_specs()]
    except SpecSourceError:
        names = []
    return names + [n for n in gate_session.specs_seen if n not in names]


def _report_order(gate_session: GateSession):
    """Results in a fixed order, whatever order pytest-xdist's workers finished in: specs as the
    session loaded them (the others by name), then the registry's properties, dtypes, devices."""
    return report_order(_spec_order(gate_session))


def report_order(names: list[str]):
    """The sort key of results, specs in the order of ``names`` (the others by name)."""
    from autograd_props.properties import PROPERTY_NAMES
    from autograd_props.spec import FLOATING_DTYPES

    specs = {name: i for i, name in enumerate(names)}
    props = {name: i for i, name in enumerate(PROPERTY_NAMES)}
    dtypes = {str(d).removeprefix("torch."): i for i, d in enumerate(FLOATING_DTYPES)}
    return lambda r: (specs.get(r.spec, len(specs)), r.spec, props.get(r.prop, len(props)), dtypes.get(r.dtype, len(dtypes)), r.dtype, r.device)


def _header(config: pytest.Config) -> dict[str, str]:
    gate_session = session_of(config)
    missing = gate_session.not_inferred()
    return {
        "specs from": gate_session.source_label,
        **({"not inferred (not checked: the run does not pass)": "; ".join(missing)} if missing else {}),
        **versions(),
        "profile": gate_session.profile_name,
        "devices": ", ".join(gate_session.devices),
        "date": report_date(),
    }
