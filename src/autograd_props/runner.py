"""Running cells: which cells a set of specs has, and one cell's Hypothesis loop.

Both the pytest plugin and :func:`autograd_props.check` run cells through here, so a cell runs
the same way inside and outside pytest.
"""

from __future__ import annotations

import dataclasses
import sys
import traceback
import warnings
from collections.abc import Iterable, Sequence

import hypothesis
import torch
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck, Unsatisfiable

from autograd_props.cell import Cell
from autograd_props.devices import available_devices
from autograd_props.properties import REGISTRY, Property
from autograd_props.results import Skip
from autograd_props.spec import FunctionSpec

__all__ = ["Budget", "cell_test", "plan", "run_cell"]

if sys.version_info < (3, 11):  # Hypothesis depends on the backport there
    from exceptiongroup import ExceptionGroup


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
                planned.append(Cell(spec=spec, dtype=dtype, device=device, prop=prop.name, source=source, skip=skip))
    return planned


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

    def first_failure_of(self, cell: Cell) -> bool:
        return self.shrink_all or (cell.spec.name, cell.prop) not in self.shrunk


DISTINCT_BUGS = 3
NO_SHRINK = tuple(p for p in Phase if p not in (Phase.shrink, Phase.explain))


def signature(exc: BaseException) -> tuple[str, str, int]:
    """A failure's identity, as Hypothesis tells bugs apart: the exception type and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = frames[-1] if frames else None
    return (type(exc).__name__, where.filename if where else "", where.lineno if where else 0)


def signatures(exc: BaseException) -> list[tuple[str, str, int]]:
    inner = getattr(exc, "exceptions", None)
    return [s for e in inner for s in signatures(e)] if inner else [signature(exc)]


def cell_test(cell: Cell, budget: settings, *, known: frozenset = frozenset()):
    """The Hypothesis test that runs ``cell``'s property on drawn examples under ``budget``.

    Examples that fail with a ``known`` signature are rejected, so the search goes on to others.
    """
    prop = REGISTRY[cell.prop]

    def run_example(data: st.DataObject) -> None:
        try:
            prop.run(cell, data)
        except Exception as exc:
            if known and signature(exc) in known:
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


def run_cell(cell: Cell, budget: Budget) -> None:
    """Run ``cell``; a finding raises (with its reproducer attached), a pass returns.

    See :class:`Budget` for what a failing cell costs.  Several distinct failures are raised
    together as an ExceptionGroup, each with its own reproducer.
    """
    with warnings.catch_warnings():
        # torch.func's own import path calls torch.jit.script (deprecated in torch 2.13): nothing
        # a user's Function or spec does, and nothing they can change.
        warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=DeprecationWarning)
        _run_cell(cell, budget)


def _run_cell(cell: Cell, budget: Budget) -> None:
    first = budget.first_failure_of(cell)
    cell.shrunk = first
    hypothesis_settings = budget.settings if first else settings(budget.settings, phases=NO_SHRINK)
    try:
        cell_test(cell, hypothesis_settings)()
    except Exception as exc:
        if not first:
            raise
        budget.shrunk.add((cell.spec.name, cell.prop))
        found = [exc]
        known = set(signatures(exc))
        while len(known) < DISTINCT_BUGS:
            try:
                cell_test(cell, hypothesis_settings, known=frozenset(known))()
            except (Unsatisfiable, FailedHealthCheck):
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


