"""pytest wiring for autograd-props: profiles, options, parametrization, report.

Every test marked ``@autograd_property(name)`` is parametrized over the loaded specs x the dtypes
each spec supports x the selected devices.  Specs come from ``--funcs pkg.module[:ATTR]``, else
the AUTOGRAD_PROPS_FUNCS environment variable, else the built-in ``funcs.SPECS``.
"""

from __future__ import annotations

import datetime
import os
import platform
import warnings
from pathlib import Path

import hypothesis
import pytest
import torch
from hypothesis import Phase, settings

from funcs import SpecSourceError, load_specs
from funcs.spec import PROPERTIES
from properties import compat
from properties.case import Case
from properties.expectations import ExpectationsFileError, StaleExpectationWarning, read_expectations
from properties.report import REPRODUCER_PREFIX, CellResult, summary_lines, write_report
from properties.strategies import available_devices

# deadline=None: torch's first call of an op (dispatcher warm-up, lazy init) can take far longer
# than later ones, which Hypothesis would report as flaky deadlines.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True, max_examples=25)
settings.register_profile("dev", deadline=None, print_blob=True, max_examples=15)
# meta: for the meta-tests, which only ask whether the gate fails a planted bug and which property
# fails; shrinking each failure (most of a failing run's time) tells them nothing.
settings.register_profile(
    "meta",
    derandomize=True,
    deadline=None,
    max_examples=25,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)
settings.register_profile("thorough", deadline=None, print_blob=True, max_examples=400)
# CI always gets the reproducible profile; --hypothesis-profile (read later by Hypothesis's own
# plugin) chooses otherwise.
settings.load_profile("ci" if os.environ.get("CI") else "dev")



class _TorchGlobalRandom:
    """torch's global generator behind random.Random's interface.

    Registered with Hypothesis so each example starts from a seeded torch RNG: a Function that
    draws random numbers (dropout, a random reduction order) replays the same way when shrunk.
    """

    def seed(self, value: int) -> None:
        torch.manual_seed(value)

    def getstate(self) -> torch.Tensor:
        return torch.random.get_rng_state()

    def setstate(self, state: torch.Tensor) -> None:
        torch.random.set_rng_state(state)


TORCH_RANDOM = _TorchGlobalRandom()  # a module-level reference: Hypothesis keeps only a weak one
hypothesis.register_random(TORCH_RANDOM)

HALF_DTYPES = (torch.float16, torch.bfloat16)
KNOWN_DEVICE_TYPES = ("cpu", "cuda", "mps")
ENV_VAR = "AUTOGRAD_PROPS_FUNCS"
_SPECS = pytest.StashKey[tuple]()
_SOURCE = pytest.StashKey[str]()
_DEVICES = pytest.StashKey[list]()
_EXPECTATIONS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograd-props")
    group.addoption(
        "--funcs",
        default=None,
        metavar="pkg.module[:ATTR]",
        help=f"check these FunctionSpecs instead of the built-in set (ATTR defaults to SPECS; also ${ENV_VAR})",
    )
    group.addoption(
        "--devices",
        default=None,
        metavar="cpu,cuda,...",
        help="devices to run on (default: every available one: " + ", ".join(available_devices()) + ")",
    )
    group.addoption(
        "--report-dir",
        default="report",
        help="where verification.md and verification.json are written (default: report/)",
    )
    for kind, what in (("xfail", "expected to fail (strict: an unexpected pass fails)"), ("skip", "skipped")):
        group.addoption(
            f"--{kind}s-file",
            action="append",
            default=[],
            metavar="PATH",
            help=f"tests {what}: one 'TEST-ID  # reason' a line, '*' a wildcard (repeatable)",
        )


def _selected_devices(config: pytest.Config) -> list[str]:
    option = config.getoption("--devices")
    if option is None:
        return available_devices()
    chosen = [d.strip() for d in option.split(",") if d.strip()]
    unknown = [d for d in chosen if d not in KNOWN_DEVICE_TYPES]
    if unknown or not chosen:
        raise pytest.UsageError(f"--devices {option!r}: unknown device {unknown or option!r}; choose from {KNOWN_DEVICE_TYPES}")
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "autograd_property(name, dtypes): a property run over specs x dtypes x devices")
    for prop in PROPERTIES:  # each property is also a marker: -m "vjp_native or forward" selects them
        config.addinivalue_line("markers", f"{prop}: the {prop} property's tests")
    source = config.getoption("--funcs") or os.environ.get(ENV_VAR) or "funcs"
    origin = "--funcs" if config.getoption("--funcs") else (f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "built-in")
    try:
        specs = load_specs(source)
    except SpecSourceError as exc:
        raise pytest.UsageError(f"autograd-props: {origin} {source!r}: {exc}") from None
    config.stash[_SPECS] = specs
    config.stash[_SOURCE] = source
    config.stash[_DEVICES] = _selected_devices(config)
    try:
        config.stash[_EXPECTATIONS] = [
            entry for kind in ("skip", "xfail") for path in config.getoption(f"{kind}s_file") for entry in read_expectations(path, kind)
        ]
    except ExpectationsFileError as exc:
        raise pytest.UsageError(f"autograd-props: {exc}") from None
    config.pluginmanager.register(VerificationCollector(config), "autograd-props-report")


def pytest_report_header(config: pytest.Config) -> list[str]:
    specs = config.stash[_SPECS]
    return [
        f"autograd-props: specs from {config.stash[_SOURCE]!r}: {', '.join(s.name for s in specs)}",
        f"autograd-props: python {platform.python_version()}, torch {torch.__version__}, "
        f"hypothesis {hypothesis.__version__}, profile {settings.get_current_profile_name()}, "
        f"devices {', '.join(config.stash[_DEVICES])}",
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("autograd_property")
    if marker is None or "case" not in metafunc.fixturenames:
        return
    prop, dtypes_mode = marker.kwargs["name"], marker.kwargs["dtypes"]
    config = metafunc.config
    present = available_devices()
    params = []
    for spec in config.stash[_SPECS]:
        dtypes = [torch.float64] if dtypes_mode == "float64" else list(spec.dtypes)
        for device in config.stash[_DEVICES]:
            for dtype in dtypes:
                case = Case(spec=spec, dtype=dtype, device=device, prop=prop, source=config.stash[_SOURCE])
                marks = [getattr(pytest.mark, prop)]
                reason = spec.skip_reason(prop) or compat.unsupported_reason(prop)
                if reason is None and dtypes_mode.startswith("full-precision:") and dtype in HALF_DTYPES:
                    reason = f"not applicable: {dtypes_mode.partition(':')[2].strip()}"
                if reason is None and dtype not in spec.dtypes:
                    reason = f"not applicable: {prop} runs in float64, which {spec.name} does not support"
                if reason is None and device not in present:
                    reason = f"device {device!r} requested by --devices but not available on this machine"
                if reason:
                    marks.append(pytest.mark.skip(reason=reason))
                params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("case", params)


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect: an entry for a deselected test is not stale
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    expectations = config.stash[_EXPECTATIONS]
    used = set()
    for item in items:
        for kind in ("skip", "xfail"):
            entry = next((e for e in expectations if e.kind == kind and e.matches(item.nodeid)), None)
            if entry is not None:
                item.add_marker(entry.marker())
                used.add(entry)
    # Under pytest-xdist every worker collects the same tests; the first one speaks for all.
    if getattr(config, "workerinput", {}).get("workerid", "gw0") != "gw0":
        return
    for entry in expectations:
        if entry not in used:
            warnings.warn(StaleExpectationWarning(f"--{entry.kind}s-file {entry.where}: {entry.pattern!r} matches no collected test"))


def _outcome(report: pytest.TestReport) -> tuple[str, str]:
    if hasattr(report, "wasxfail"):  # an xfail marker: xfailed, or a non-strict unexpected pass
        return ("xfailed" if report.skipped else "xpassed"), report.wasxfail
    if report.failed:
        return "failed", ""
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(("opted out:", "surrogate gradient:")):
            return "opted-out", reason
        if reason.startswith("not applicable:"):
            return "not-applicable", reason
        return "skipped", reason
    return "passed", ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    case = item.callspec.params.get("case") if hasattr(item, "callspec") else None
    if not isinstance(case, Case):
        return
    if report.when == "call" or (report.when == "setup" and report.skipped):
        # user_properties travel from pytest-xdist workers to the controller that writes the report.
        report.user_properties.append(
            (
                "autograd_props",
                {
                    "spec": case.spec.name,
                    "prop": case.prop,
                    "dtype": str(case.dtype).removeprefix("torch."),
                    "device": case.device,
                    "examples": case.examples,
                    "worst_margin": case.worst_margin,
                    "first_failure": case.first_failure,
                    "events": case.events,
                },
            )
        )
    if report.when == "call" and call.excinfo is not None:
        report.user_properties.append(("autograd_props_reproducer", _reproducer_note(call.excinfo.value)))


def _reproducer_note(exc: BaseException) -> str:
    """The reproducer that properties.report.reproducer attached to the exception, or ""."""
    for note in getattr(exc, "__notes__", ()):
        if note.startswith(REPRODUCER_PREFIX):
            return note
    # Hypothesis raises an ExceptionGroup when one test found several distinct failures.
    for inner in getattr(exc, "exceptions", ()):
        if found := _reproducer_note(inner):
            return found
    return ""


class VerificationCollector:
    """Gathers one CellResult per property test and writes the report at the end of the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: list[CellResult] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        info = dict(report.user_properties).get("autograd_props")
        if info is None or not (report.when == "call" or (report.when == "setup" and report.skipped)):
            return
        outcome, reason = _outcome(report)
        self.results.append(
            CellResult(
                spec=info["spec"],
                prop=info["prop"],
                dtype=info["dtype"],
                device=info["device"],
                outcome=outcome,
                reason=reason,
                examples=info["examples"],
                worst_margin=info["worst_margin"],
                first_failure=info["first_failure"],
                nodeid=report.nodeid,
                failure=report.longreprtext if report.failed else "",
                reproducer=dict(report.user_properties).get("autograd_props_reproducer", ""),
                error=_error_line(report),
            )
        )

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.results or hasattr(self.config, "workerinput"):
            return
        # Under pytest-xdist results arrive in completion order; report specs in their loaded order.
        order = {spec.name: i for i, spec in enumerate(self.config.stash[_SPECS])}
        self.results.sort(key=lambda r: order.get(r.spec, len(order)))
        directory = Path(self.config.getoption("--report-dir"))
        json_path, md_path = write_report(self.results, directory, _header(self.config))
        terminalreporter.section("autograd-props verification matrix")
        for line in summary_lines(self.results):
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"report: {md_path} and {json_path}")


def _error_line(report: pytest.TestReport) -> str:
    """The failure's exception line (pytest's crash message), or "" for a cell that did not fail."""
    if not report.failed:
        return ""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr)
    return message.split("\n")[0][:500]


def _header(config: pytest.Config) -> dict[str, str]:
    return {
        "specs from": config.stash[_SOURCE],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "hypothesis": hypothesis.__version__,
        "profile": settings.get_current_profile_name(),
        "devices": ", ".join(config.stash[_DEVICES]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
