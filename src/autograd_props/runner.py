"""Running cells: which cells a set of specs has, and one cell's Hypothesis loop.

Both the pytest plugin and :func:`autograd_props.check` run cells through here, so a cell runs
the same way inside and outside pytest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterable, Sequence

import hypothesis
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck, Unsatisfiable

from autograd_props import compat, lost_device
from autograd_props.cell import Cell, add_note, attach_failure
from autograd_props.devices import available_devices
from autograd_props.messages import first_line
from autograd_props.properties import REGISTRY, Property
from autograd_props.results import Skip
from autograd_props.sizes import Sizes, drawing_sizes
from autograd_props.spec import FunctionSpec
from autograd_props.spec_mistakes import SpecMistake
from autograd_props.worker_threads import share_cores_among_workers

__all__ = ["Budget", "cell_test", "plan", "run_cell"]

if sys.version_info < (3, 11):  # Hypothesis depends on the backport there
    from exceptiongroup import ExceptionGroup


class _TorchGlobalRandom:
    """torch's global generator behind random.Random's interface.

    Registered with Hypothesis so each example starts from a seeded torch RNG: a Function that
    draws random numbers (dropout, a random reduction order) replays the same way when shrunk.
    """

    def seed(self, value: int) -> None:
        # As torch.manual_seed, less its cost: it also seeds every accelerator backend, and one
        # that is not initialized (every one, on a machine without it) queues the call with a
        # formatted stack trace, a millisecond or more deep inside pytest and Hypothesis, for
        # every example.  A backend this machine does not have can never use the seed.
        torch.random.default_generator.manual_seed(value)
        for backend in _ACCELERATORS:
            if backend.is_available() and not backend._is_in_bad_fork():
                backend.manual_seed_all(value)
        if torch.backends.mps.is_available():
            torch.mps.manual_seed(value)
        if _CUSTOM_BACKEND is not None:  # a privateuse1 device: torch knows how to seed it
            torch.random._seed_custom_device(value)

    def getstate(self) -> torch.Tensor:
        return torch.random.get_rng_state()

    def setstate(self, state: torch.Tensor) -> None:
        torch.random.set_rng_state(state)


_ACCELERATORS = tuple(getattr(torch, name) for name in ("cuda", "xpu", "mtia") if hasattr(torch, name))
_CUSTOM_BACKEND = getattr(torch, torch._C._get_privateuse1_backend_name(), None)

TORCH_RANDOM = _TorchGlobalRandom()  # a module-level reference: Hypothesis keeps only a weak one
hypothesis.register_random(TORCH_RANDOM)


def plan(prop: Property, specs: Iterable[FunctionSpec], devices: Sequence[str], *, source: str | None = None) -> list[Cell]:
    """Every cell of ``prop`` over ``specs`` x their dtypes x ``devices``, in that order; a cell
    that will not run says why in its ``skip``."""
    present = available_devices()
    planned = []
    for spec in specs:
        for device in devices:
            for dtype in prop.dtypes_for(spec):
                skip = prop.skip(spec, dtype)
                if skip is None and device not in present:
                    skip = Skip("skipped", f"device {device!r} requested by --devices but not available on this machine")
                cell = Cell(spec=spec, dtype=dtype, device=device, prop=prop.name, source=source, skip=skip)
                if prop.name in ("vjp_native", "vjp_finite_differences"):  # the cells its reference decides
                    # How a discovered spec was inferred (its reference, its arguments) shows there.
                    cell.notes.update(dict.fromkeys(getattr(spec, "inference_notes", ()), 0))
                planned.append(cell)
    return planned


# Generous: an example of the compile property compiles the Function (seconds), and a loaded
# 2-core machine runs everything several times slower.
DEFAULT_EXAMPLE_TIMEOUT = 120.0


class ExampleTimeout(BaseException):
    """Raised inside a hung example.  Not an Exception: Hypothesis must not shrink a hang (every
    shrinking step would hang too), so it passes straight through to :func:`run_cell`."""


class SearchExhausted(BaseException):
    """The search for a further distinct failure met only known ones for a whole budget of examples.
    Not an Exception, so that Hypothesis does not take it for a failure of the example."""


class ShrinkTimeSpent(BaseException):
    """Shrinking a failure ran past its time bound: carries the smallest failure seen by then.
    Not an Exception, for the same reason as :class:`ExampleTimeout`."""

    def __init__(self, smallest: BaseException) -> None:
        super().__init__()
        self.smallest = smallest


class ExampleTimedOut(AssertionError):
    """A cell's example ran past the time limit: reported as the cell's failure."""


class SpecHungBefore(AssertionError):
    """A cell not run: an earlier cell of its spec hung, and the spec's time for more is spent."""


@dataclasses.dataclass
class SpecHang:
    """A spec one of whose examples ran past the limit: where, and the wall seconds its later cells
    in this process have left.  Those cells share one more limit: each example may take what is
    left of it, every second they run is counted against it, and once it is spent the spec's
    remaining cells fail at once, naming the first hang (a hang most often recurs in every cell
    that calls the same backward: 4 cells cost 4 limits before)."""

    cell: str
    where: str
    left: float


class SpecHealthCheckFailed(Exception):
    """Hypothesis refused the spec's strategy (too slow, too much filtering, too large): the
    message says what the spec can change."""


def _with_spec_settings(base: settings, cell: Cell) -> settings:
    """``base`` with the spec's own Hypothesis settings (its example budget, its suppressed health
    checks, each noted with its reason on the cell)."""
    given = cell.spec.hypothesis
    if not given:
        return base
    changes = {}
    if "max_examples" in given:
        changes["max_examples"] = given["max_examples"]
    suppressed = given.get("suppress_health_check", {})
    if suppressed:
        changes["suppress_health_check"] = [*base.suppress_health_check, *suppressed]
        for check, reason in suppressed.items():
            cell.notes[f"health check {check.name} suppressed by the spec: {reason}"] = 0
    return settings(base, **changes)


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Raise ExampleTimeout in the block after ``seconds`` (see _time_limit)."""
    with _time_limit(seconds):
        yield


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Raise ExampleTimeout in the block after ``seconds`` (by SIGALRM: on the main thread of a
    platform that has it; elsewhere there is no limit)."""
    usable = seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise ExampleTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_OURS = (os.sep + "autograd_props" + os.sep, os.sep + "hypothesis" + os.sep, os.sep + "torch" + os.sep, os.sep + "_pytest" + os.sep)


def _where_it_hung(exc: BaseException) -> str:
    """The innermost frame of the user's code (else the innermost at all) when the limit expired."""
    frames = traceback.extract_tb(exc.__traceback__)[:-1]  # the last is the signal handler's own
    theirs = [f for f in frames if not any(part in f.filename for part in _OURS)]
    frame = (theirs or frames or [None])[-1]
    return f"{frame.name} ({frame.filename}:{frame.lineno})" if frame else "an unknown call"


@dataclasses.dataclass
class Budget:
    """How much a run spends on failures.

    The first failing cell of each (spec, property) is shrunk fully and searched for up to
    ``DISTINCT_BUGS`` distinct failures; later failing cells of the same (spec, property), the same
    bug in another dtype or device most often, are reported as found, not shrunk.  ``shrink_all``
    shrinks and searches every failing cell.
    """

    settings: settings
    shrink_all: bool = False
    shrunk: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    example_timeout: float | None = DEFAULT_EXAMPLE_TIMEOUT  # seconds one example may take; None: no limit
    large_sizes: bool = False  # every spec drawn at large sizes (the large profile)
    hangs: dict[str, SpecHang] = dataclasses.field(default_factory=dict)  # spec name -> its first hang
    mistakes: dict[str, SpecMistake] = dataclasses.field(default_factory=dict)  # spec name -> its mistake

    @property
    def time_bounded(self) -> bool:
        """Shrinking and the search for further failures stop at a time bound as well as an example
        bound (see :class:`_FailureClock`); a full shrink (``shrink_all``) has no time bound."""
        return not self.shrink_all

    def first_failure_of(self, cell: Cell) -> bool:
        return self.shrink_all or (cell.spec.name, cell.prop) not in self.shrunk


DISTINCT_BUGS = 3
# The time bound of shrinking a failure and of the search for a further one, in examples: each may
# take as long as this many of the cell's examples took while it looked for its first failure (its
# max_examples), so a failing cell costs a few times a passing one, whatever the Function costs.
MIN_BOUND_SECONDS = 2.0  # at least this long: a cell whose first example failed has one timing
# A bound cut short by a loaded machine would make a derandomized run's reproducers depend on the
# load, so the bound is in the process's CPU time (which other processes' load barely moves), never
# cuts a shrink or search short of max_examples examples, and caps the wall time only at this many
# times the bound (a Function that waits rather than computes, on a GPU say, spends little CPU).
WALL_CAP_FACTOR = 4.0


class _FailureClock:
    """What the examples of a cell cost, and the time bounds of its shrinking and its search.

    The per-example cost is measured while the cell looks for its first failure: every example up
    to and including the first failing one.  Shrinking then runs at most ``max_examples`` times
    that; so does the search for each further failure (its examples that show only known failures),
    and the shrinking of what that search finds.  Costs are CPU seconds of this process, and each
    stage runs at least ``max_examples`` examples (see ``WALL_CAP_FACTOR``).
    """

    def __init__(self, max_examples: int) -> None:
        self.max_examples = max_examples
        self.started = self.now()
        self.per_example: tuple[float, float] | None = None  # (CPU, wall) seconds, once the first failure is in

    @staticmethod
    def now() -> tuple[float, float]:
        return time.process_time(), time.perf_counter()

    def first_failure(self, examples: int) -> None:
        if self.per_example is None:
            cpu, wall = self.now()
            n = max(examples, 1)
            self.per_example = ((cpu - self.started[0]) / n, (wall - self.started[1]) / n)

    def bound(self) -> float:
        """The CPU seconds a stage may take."""
        return max(MIN_BOUND_SECONDS, self.max_examples * (self.per_example or (0.0, 0.0))[0])

    def spent(self, since: tuple[float, float], examples: int) -> bool:
        """Whether a stage that began at ``since`` and has run ``examples`` examples is over its bound."""
        if examples < self.max_examples:
            return False
        cpu, wall = self.now()
        wall_bound = max(MIN_BOUND_SECONDS, self.max_examples * (self.per_example or (0.0, 0.0))[1])
        return cpu - since[0] > self.bound() or wall - since[1] > WALL_CAP_FACTOR * wall_bound


NO_SHRINK = tuple(p for p in Phase if p not in (Phase.shrink, Phase.explain))


def signature(exc: BaseException) -> tuple[str, str, int]:
    """A failure's identity, as Hypothesis tells bugs apart: the exception type and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = frames[-1] if frames else None
    return (type(exc).__name__, where.filename if where else "", where.lineno if where else 0)


def signatures(exc: BaseException) -> list[tuple[str, str, int]]:
    inner = getattr(exc, "exceptions", None)
    return [s for e in inner for s in signatures(e)] if inner else [signature(exc)]


def cell_test(
    cell: Cell,
    budget: settings,
    *,
    known: frozenset = frozenset(),
    timeout: float | None = None,
    clock: _FailureClock | None = None,
):
    """The Hypothesis test that runs ``cell``'s property on drawn examples under ``budget``.

    Examples that fail with a ``known`` signature are rejected, so the search goes on to others.
    Each example may take ``timeout`` seconds (see :func:`time_limit`).  With a ``clock``, the
    shrinking of a failure stops at the clock's time bound (raising :class:`ShrinkTimeSpent` with
    the smallest failure seen by then), and so does a search past ``known`` failures that has found
    nothing new (:class:`SearchExhausted`).
    """
    prop = REGISTRY[cell.prop]
    rejected = 0
    examples = 0
    smallest: BaseException | None = None  # the latest failure: the shrinker only tries smaller ones
    shrinking_since: tuple[float, float] | None = None  # when this stage began (see _FailureClock.now)
    stage_examples = 0  # examples run in the current stage: the search, then the shrink
    search_since = _FailureClock.now()

    def out_of_time() -> None:
        # Checked after an example has drawn, never before: Hypothesis replays a known choice
        # sequence while shrinking and would take an example that stops early for a flaky strategy.
        if clock is None:
            return
        if not clock.spent(shrinking_since if shrinking_since is not None else search_since, stage_examples):
            return
        if shrinking_since is not None:
            raise ShrinkTimeSpent(smallest)
        if known:
            raise SearchExhausted

    @contextlib.contextmanager
    def time_limit(seconds):  # the module's time_limit, and the clock's bookkeeping around it
        nonlocal examples, smallest, shrinking_since, stage_examples
        examples += 1
        stage_examples += 1
        try:
            with _time_limit(seconds):
                yield
        except Exception as exc:
            if known and signature(exc) in known:
                out_of_time()
            elif clock is not None:
                clock.first_failure(examples)
                if smallest is None or signature(exc) == signature(smallest):
                    smallest = exc
                if shrinking_since is None:  # a first failure: its shrinking starts now
                    shrinking_since = _FailureClock.now()
                    stage_examples = 0
                else:
                    out_of_time()
            raise
        out_of_time()

    # Its source is the one it had before the time bounds, word for word: Hypothesis derives a
    # derandomized run's seed from it, so any change would change every example the gate draws.
    def run_example(data: st.DataObject) -> None:
        nonlocal rejected
        cell.current = None  # until this example's draw is done
        try:
            with time_limit(timeout):
                prop.run(cell, data)
        except Exception as exc:
            if known and signature(exc) in known:
                rejected += 1
                if rejected >= budget.max_examples:
                    # Hypothesis would go on drawing (up to ten times as many) while the examples
                    # that show nothing new are rejected: a Function that fails on every input
                    # would pay that in every cell.
                    raise SearchExhausted from None
                reject()
            raise

    run_example.__name__ = run_example.__qualname__ = f"test_{prop.name}"
    # Keys the example database and the derandomized seed by cell, not by this shared source.
    run_example._hypothesis_internal_add_digest = cell.key.encode()
    if prop.max_examples is not None and prop.max_examples < budget.max_examples:
        budget = settings(budget, max_examples=prop.max_examples)
    if known:
        # A search past known bugs rejects the examples that show them; when every example shows
        # one, there is nothing else to find, which Hypothesis reports as too much filtering.
        budget = settings(budget, suppress_health_check=[*budget.suppress_health_check, HealthCheck.filter_too_much])
    return settings(budget)(given(data=st.data())(run_example))


def _run_bounded(cell: Cell, test, clock: _FailureClock | None) -> None:
    """Run a :func:`cell_test`; a shrink stopped at its time bound raises the smallest failure found."""
    try:
        test()
    except ShrinkTimeSpent as spent:
        cell.notes[
            f"shrinking stopped at its time bound ({clock.bound():.1f} CPU s, what {clock.max_examples} of the cell's "
            f"examples took): the example is the smallest found by then (--full-shrink shrinks without a time bound)"
        ] = 1
        raise spent.smallest from None


def run_cell(cell: Cell, budget: Budget) -> None:
    """Run ``cell``; a finding raises (with its reproducer attached), a pass returns.

    See :class:`Budget` for what a failing cell costs.  Several distinct failures are raised
    together as an ExceptionGroup, each with its own reproducer.
    """
    lost_by = lost_device.lost_in(cell.device)
    if lost_by is not None:
        raise lost_device.not_run(cell.device, lost_by)
    with warnings.catch_warnings(), _quiet_torch_logs():
        # torch.func's own import path calls torch.jit.script (deprecated in torch 2.13): nothing
        # a user's Function or spec does, and nothing they can change.
        warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)
        try:
            _run_cell(cell, budget)
        except Exception as exc:
            if lost_device.is_sticky(exc):
                lost_device.mark_lost(cell.device, cell.key)
                explanation = lost_device.explain(cell.device)
                cell.notes[explanation] = 0
                add_note(exc, f"autograd-props: {explanation}")
            raise


class _TorchBelowWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("torch") and record.levelno < logging.WARNING)


@contextlib.contextmanager
def _quiet_torch_logs():
    """torch's debug and info records (dynamo's structured trace: thousands of lines for one
    compiled example) kept from the handlers that would print them, such as pytest's captured
    log, unless the user asked for them with ``TORCH_LOGS``."""
    if os.environ.get("TORCH_LOGS"):
        yield
        return
    quiet = _TorchBelowWarning()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


def _run_cell(cell: Cell, budget: Budget) -> None:
    share_cores_among_workers()
    large = budget.large_sizes or cell.spec.sizes == "large"
    with drawing_sizes(Sizes(large=large, chunk_sizes=cell.spec.chunk_sizes)):
        _run_cell_at_its_sizes(cell, budget)


def _run_cell_at_its_sizes(cell: Cell, budget: Budget) -> None:
    first = budget.first_failure_of(cell)
    cell.shrunk = first
    hypothesis_settings = _with_spec_settings(budget.settings, cell)
    if not first:
        hypothesis_settings = settings(hypothesis_settings, phases=NO_SHRINK)
    max_examples = hypothesis_settings.max_examples
    if REGISTRY[cell.prop].max_examples is not None:
        max_examples = min(max_examples, REGISTRY[cell.prop].max_examples)
    clock = _FailureClock(max_examples) if first and budget.time_bounded else None
    unsupported = compat.unsupported_reason(cell.prop)
    if unsupported:
        pytest.skip(unsupported)
    mistake = budget.mistakes.get(cell.spec.name)
    if mistake is not None:  # the same on every example of every cell: said once, not drawn again
        pytest.skip(f"not run: {cell.spec.name} has a mistake in its field {mistake.field!r}, reported in {mistake.cell}")
    hang = budget.hangs.get(cell.spec.name)
    timeout = budget.example_timeout
    if hang is not None:
        if hang.left <= 0:
            raise SpecHungBefore(
                f"{cell.key}: not run: {cell.spec.name} hung in {hang.cell} (in {hang.where}), and the one more "
                f"limit ({budget.example_timeout:g} s) its later cells share is spent; fix the hang, or "
                "--example-timeout SECONDS"
            )
        timeout = hang.left if timeout is None else min(timeout, hang.left)
    started = time.perf_counter()
    run = functools.partial(cell_test, cell, hypothesis_settings, timeout=timeout, clock=clock)
    try:
        _run_bounded(cell, run(), clock)
    except FailedHealthCheck as failed:
        check = re.search(r"HealthCheck\.(\w+)", str(failed))
        name = check[1] if check else "<name>"
        raise SpecHealthCheckFailed(
            f"{cell.key}: Hypothesis's health check {name} failed while drawing {cell.spec.name}'s examples: "
            f"{first_line(failed, 500)}  This concerns the spec's args strategy, not the Function: draw "
            f"cheaper examples, or let the spec say why the check does not apply: FunctionSpec(..., "
            f"hypothesis={{'suppress_health_check': {{HealthCheck.{name}: 'the reason'}}}})"
        ) from None
    except SpecMistake as mistake:
        cell.shrunk = False
        mistake.cell = cell.key
        budget.mistakes[cell.spec.name] = mistake
        raise
    except ExampleTimeout as hung:
        cell.shrunk = False
        where = _where_it_hung(hung)
        message = f"{cell.key}: an example ran past the {timeout:g} s limit in {where} (--example-timeout SECONDS to change it)"
        if hang is None:
            budget.hangs[cell.spec.name] = SpecHang(cell.key, where, left=budget.example_timeout)
        else:
            message += f"; {cell.spec.name} hung before in {hang.cell}, and its later cells share one more limit"
        timed_out = ExampleTimedOut(message)
        if cell.current is not None:
            attach_failure(timed_out, cell.failure(REGISTRY[cell.prop].check, cell.current, timed_out))
        raise timed_out from None
    except Exception as exc:
        if not first:
            raise
        budget.shrunk.add((cell.spec.name, cell.prop))
        found = [exc]
        known = set(signatures(exc))
        while len(known) < DISTINCT_BUGS:
            try:
                _run_bounded(cell, run(known=frozenset(known)), clock)
            except (Unsatisfiable, FailedHealthCheck, ExampleTimeout, SearchExhausted):
                break
            except Exception as other:
                new = set(signatures(other)) - known
                if not new:
                    break
                found.append(other)
                known |= new
            else:
                break
        if len(found) == 1:
            raise
        raise ExceptionGroup(f"{cell.key}: {len(known)} distinct failures", found) from None
    finally:
        if hang is not None:
            hang.left -= time.perf_counter() - started


