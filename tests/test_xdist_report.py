"""pytest-xdist (-n 2) writes the same verification report as a serial run."""

from __future__ import annotations

import pytest

from tests.corpus.gate_runner import run_gate

pytestmark = pytest.mark.slow

# Two specs (one with an opt-out), a few properties, a failing spec: every kind of cell.
SELECT = ("-m", "forward or vjp_native or special_values")


def _cells(run) -> list[tuple]:
    """Each cell's outcome, and for a passing cell what it ran.  A failing cell's example count and
    margin depend on how far it was shrunk: fully for the first failure of its spec x property that
    its process meets, which under xdist depends on how the cells were shared out."""
    return sorted(
        (c["spec"], c["prop"], c["dtype"], c["device"], c["outcome"], c["reason"])
        + ((c["examples"], c["worst_margin"]) if c["outcome"] != "failed" else ())
        for c in run.cells
    )


def _fully_shrunk(run) -> set[tuple[str, str]]:
    return {(c["spec"], c["prop"]) for c in run.cells if c["outcome"] == "failed" and c["shrunk"]}


def _failing(run) -> set[tuple[str, str]]:
    return {(c["spec"], c["prop"]) for c in run.cells if c["outcome"] == "failed"}


@pytest.mark.parametrize("funcs", ["funcs.layernorm:SPEC", "tests.corpus.softplus_sign_flipped"])
def test_parallel_run_writes_the_same_cells(funcs):
    serial = run_gate(funcs, *SELECT)  # the meta profile: derandomized, so both runs draw the same examples
    parallel = run_gate(funcs, *SELECT, "-n", "2")
    assert serial.exit_code == parallel.exit_code, parallel.output[-3000:]
    assert serial.cells and _cells(serial) == _cells(parallel)
    # Every failing spec x property has a fully shrunk cell in both runs.
    assert _fully_shrunk(serial) == _failing(serial) and _fully_shrunk(parallel) == _failing(parallel)
