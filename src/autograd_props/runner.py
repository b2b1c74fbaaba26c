"""Running cells: which cells a set of specs has, and one cell's Hypothesis loop.

Both the pytest plugin and :func:`autograd_props.check` run cells through here, so a cell runs
the same way inside and outside pytest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import hypothesis
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_props.cell import Cell
from autograd_props.devices import available_devices
from autograd_props.properties import REGISTRY, Property
from autograd_props.results import Skip
from autograd_props.spec import FunctionSpec

__all__ = ["cell_test", "plan", "run_cell"]


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


def cell_test(cell: Cell, budget: settings):
    """The Hypothesis test that runs ``cell``'s property on drawn examples under ``budget``."""
    prop = REGISTRY[cell.prop]

    def run_example(data: st.DataObject) -> None:
        prop.run(cell, data)

    run_example.__name__ = run_example.__qualname__ = f"test_{prop.name}"
    # Keys the example database and the derandomized seed by cell, not by this shared source.
    run_example._hypothesis_internal_add_digest = cell.key.encode()
    if prop.max_examples is not None and prop.max_examples < budget.max_examples:
        budget = settings(budget, max_examples=prop.max_examples)
    return settings(budget)(given(data=st.data())(run_example))


def run_cell(cell: Cell, budget: settings) -> None:
    """Run ``cell``; a finding raises (with its reproducer attached), a pass returns."""
    cell_test(cell, budget)()
