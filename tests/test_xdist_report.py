"""pytest-xdist (-n 2) writes the same verification report as a serial run."""

from __future__ import annotations

import pytest

from tests.corpus.gate_runner import run_gate

pytestmark = pytest.mark.slow

# Two specs (one with an opt-out), a few properties, a failing spec: every kind of cell.
SELECT = ("-m", "forward or vjp_native or special_values")


def _cells(run) -> list[tuple]:
    return sorted(
        (c["spec"], c["prop"], c["dtype"], c["device"], c["outcome"], c["reason"], c["examples"], c["worst_margin"])
        for c in run.cells
    )


@pytest.mark.parametrize("funcs", ["funcs.layernorm:SPEC", "tests.corpus.softplus_sign_flipped"])
def test_parallel_run_writes_the_same_cells(funcs):
    serial = run_gate(funcs, *SELECT)  # the meta profile: derandomized, so both runs draw the same examples
    parallel = run_gate(funcs, *SELECT, "-n", "2")
    assert serial.exit_code == parallel.exit_code, parallel.output[-3000:]
    assert serial.cells and _cells(serial) == _cells(parallel)
