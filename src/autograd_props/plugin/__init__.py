"""The pytest plugin (entry point ``pytest11: autograd_props``): options, markers, the gate's
parametrization, expectation files and the verification report.

It is loaded in every pytest session of an environment where autograd-props is installed, so it
does nothing until a gate class (:func:`autograd_props.gate`) is collected: no profile is loaded,
no report is written, and torch is imported only by the hooks that need it.  The Hypothesis
profiles it registers carry the project's prefix (``autograd-props-ci``, ...).
"""

from __future__ import annotations

import pytest

from autograd_props import profiles  # noqa: F401  (registers the prefixed profiles for --hypothesis-profile)

ENV_VAR = "AUTOGRAD_PROPS_FUNCS"
# On a gate test's report: the date of the pass reused from the verdict cache.  Here, not in
# incremental.py, so that reading it for every test of a session does not import torch.
CACHED_PROPERTY = "autograd_props_cached"


def _gate_options() -> list[tuple[tuple[str, ...], dict]]:
    """The gate's own command-line options, as (flags, argparse keywords): pytest's parser takes
    them, and ``python -m autograd_props --help`` lists them."""
    options: list[tuple[tuple[str, ...], dict]] = []

    def addoption(*flags: str, **keywords) -> None:
        options.append((flags, keywords))

    addoption(
        "--funcs",
        dest="autograd_props_funcs",
        action="append",
        default=[],
        metavar="pkg.module[:ATTR]",
        help="check these FunctionSpecs (ATTR defaults to SPECS).  Repeatable: the specs of every value "
        f"are checked, and their names must be unique.  Default: ${ENV_VAR}, else this checkout's built-in set",
    )
    addoption(
        "--devices",
        dest="autograd_props_devices",
        default=None,
        metavar="cpu,cuda,...",
        help="devices to run on (default: every available one of cpu, cuda, mps); one that is not available "
        "is a usage error",
    )
    addoption(
        "--skip-missing-devices",
        dest="autograd_props_skip_missing_devices",
        action="store_true",
        help="skip the cells of --devices that are not available instead of refusing the run (a run in which "
        "no cell ran still exits 5)",
    )
    addoption(
        "--report-dir",
        dest="autograd_props_report_dir",
        default="report",
        metavar="DIR",
        help="where verification.md and verification.json are written (default: report/)",
    )
    addoption(
        "--full-shrink",
        dest="autograd_props_full_shrink",
        action="store_true",
        help="shrink every failing cell and search each for distinct failures, without a time bound (default: "
        "only the first failing cell of each spec x property, for at most the time max_examples of its examples "
        "took; the others report the example as found, which is much faster)",
    )
    addoption(
        "--example-timeout",
        dest="autograd_props_example_timeout",
        type=float,
        default=None,  # the runner's DEFAULT_EXAMPLE_TIMEOUT (not imported here: it would import torch)
        metavar="SECONDS",
        help="time limit for one example (default 120; 0: none); an example past it fails its cell, naming the "
        "call that hung, and the run goes on",
    )
    addoption(
        "--no-cache",
        dest="autograd_props_no_cache",
        action="store_true",
        help="run every cell, also those whose passes the verdict cache holds (passes are still stored); the "
        "cache is pytest's (.pytest_cache/), used by runs with a derandomized profile or --hypothesis-seed",
    )
    addoption(
        "--shard",
        dest="autograd_props_shard",
        default=None,
        metavar="K/N",
        help="run the K-th of N parts of the gate's cells (split evenly by expected cost) and write that part of "
        "the report; `autograd-props merge` joins the parts into the report of one run",
    )
    for kind, what in (("xfail", "expected to fail (strict: an unexpected pass fails)"), ("skip", "skipped")):
        addoption(
            f"--{kind}s-file",
            dest=f"autograd_props_{kind}s_file",
            action="append",
            default=[],
            metavar="PATH",
            help=f"cells {what}: one 'property[spec-dtype-device]  # reason' a line, '*' a wildcard (repeatable)",
        )
    return options


GATE_OPTIONS = _gate_options()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograd-props")
    for flags, keywords in GATE_OPTIONS:
        group.addoption(*flags, **keywords)


def pytest_configure(config: pytest.Config) -> None:
    for name, summary in _property_markers():
        config.addinivalue_line("markers", f"{name}: autograd-props property: {summary}")
    _short_gate_ids(config)
    from autograd_props.plugin import collector, session

    session.install(config)
    config.pluginmanager.register(collector.VerificationCollector(config), "autograd-props-report")


def _short_gate_ids(config: pytest.Config) -> None:
    """The command's test ids as ``gate_tests.py::TestGate::test_vjp_native[...]``, not as a path from
    the current directory into site-packages (pytest prints ids relative to where it was run; the
    command roots the run at the gate's own folder)."""
    from pathlib import Path

    gate_folder = Path(__file__).parent
    if Path(config.rootpath) != gate_folder:
        return
    relative = config.cwd_relative_nodeid

    def short(nodeid):  # a str, or pytest 9's NodeId
        return nodeid if str(nodeid).split("::", 1)[0] == "gate_tests.py" else relative(nodeid)

    config.cwd_relative_nodeid = short  # type: ignore[method-assign]


def pytest_report_header(config: pytest.Config) -> list[str]:
    from autograd_props.plugin.session import session_of

    gate_session = session_of(config)
    if not gate_session.sources:  # no gate asked for by option: a gate class may still be collected
        return []
    import platform

    import hypothesis
    import torch

    names = ", ".join(item.spec.name for item in gate_session.session_specs())
    return [
        f"autograd-props: specs from {gate_session.source_label!r}: {names}",
        f"autograd-props: python {platform.python_version()}, torch {torch.__version__}, "
        f"hypothesis {hypothesis.__version__}, profile {gate_session.profile_name}, devices {', '.join(gate_session.devices)}",
    ]


def _property_markers() -> list[tuple[str, str]]:
    from autograd_props.properties import REGISTRY

    return [(p.name, p.summary) for p in REGISTRY.values()]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from autograd_props.plugin.gate import GATE_ATTRIBUTE, PROPERTY_ATTRIBUTE

    if metafunc.cls is None or not hasattr(metafunc.cls, GATE_ATTRIBUTE):
        return
    prop_name = getattr(metafunc.function, PROPERTY_ATTRIBUTE, None)
    if prop_name is None:
        return
    from autograd_props.loading import SpecSourceError
    from autograd_props.plugin.session import session_of
    from autograd_props.properties import REGISTRY
    from autograd_props.runner import plan

    gate_session = session_of(metafunc.config)
    try:
        found = gate_session.specs_for(getattr(metafunc.cls, GATE_ATTRIBUTE))
    except SpecSourceError as exc:
        message = f"autograd-props: {metafunc.cls.__name__} in {metafunc.module.__name__}: {exc}"
        if message not in gate_session.errors:
            gate_session.errors.append(message)
        metafunc.parametrize("cell", [])
        return
    params = []
    for item in found:
        for cell in plan(REGISTRY[prop_name], [item.spec], gate_session.devices, source=item.source):
            marks = [pytest.mark.skip(reason=cell.skip.message)] if cell.skip else []
            params.append(pytest.param(cell, id=cell.id, marks=marks))
    metafunc.parametrize("cell", params)


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect: an entry for a deselected test is not stale
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from autograd_props.cell import cell_of
    from autograd_props.plugin import collector
    from autograd_props.plugin.session import session_of

    gate_session = session_of(config)
    if gate_session.errors:
        raise pytest.UsageError("\n".join(gate_session.errors))
    # Under pytest-xdist a usage error raised in a worker's collection is an internal error; a run
    # given its specs by option (the command) was checked by the controller at session start.
    if not hasattr(config, "workerinput") and any(cell_of(item) is not None for item in items):
        check_mark_expression(config, {mark.name for item in items for mark in item.iter_markers()})
    collector.apply_expectations(config, gate_session, items)
    _spec_by_spec(items)


def _spec_by_spec(items: list[pytest.Item]) -> None:
    """The gate's cells in spec order (a spec's properties one after another, in their order), so
    that each spec's "done" line comes when it is done, not all at the end of the run: pytest's
    own order is property by property, which finishes every spec with the last property."""
    from autograd_props.cell import cell_of

    cells = {i: cell for i, item in enumerate(items) if (cell := cell_of(item)) is not None}
    first_seen: dict[str, int] = {}
    for cell in cells.values():
        first_seen.setdefault(cell.spec.name, len(first_seen))
    ordered = sorted(cells, key=lambda i: first_seen[cells[i].spec.name])  # stable
    moved = [items[i] for i in ordered]
    for i, item in zip(cells, moved):
        items[i] = item


def check_mark_expression(config: pytest.Config, also_known: set[str] = frozenset()) -> None:
    """A usage error for a ``-m`` that names a marker nothing registers or carries (a misspelled
    property would deselect every cell)."""
    from autograd_props.plugin.mark_expression import marker_name, unknown_markers

    expression = config.getoption("markexpr", "") or ""
    known = {marker_name(line) for line in config.getini("markers")} | set(also_known)
    unknown = unknown_markers(expression, known)
    if unknown:
        properties = ", ".join(name for name, _ in _property_markers())
        raise pytest.UsageError(
            f"autograd-props: -m {expression!r}: no property or marker named {', '.join(map(repr, unknown))}; "
            f"the properties are: {properties}"
        )


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    """A pass reused from the verdict cache reads as such: ``c``, ``PASSED (cached, <date>)``."""
    if report.when != "call" or not report.passed:
        return None
    date = dict(report.user_properties).get(CACHED_PROPERTY)
    if date is None:
        return None
    return "cached", "c", (f"PASSED (cached, {date})", {"green": True})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    from autograd_props.plugin import collector

    collector.attach_cell_result(item, call, outcome.get_result())
