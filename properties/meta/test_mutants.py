"""Every planted bug is caught, by the property aimed at it; the gate runs them as a user would."""

from __future__ import annotations

import concurrent.futures
import os

import pytest

from properties.meta.gate_runner import run_gate
from properties.meta.mutants import MUTANTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gate_runs():
    """All mutants through the gate, in parallel subprocesses (one per core)."""
    workers = max(1, min(len(MUTANTS), os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {name: pool.submit(run_gate, f"properties.meta.mutants:{name}") for name in MUTANTS}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_is_caught_by_its_property(gate_runs, name):
    mutant, run = MUTANTS[name], gate_runs[name]
    assert run.exit_code == 1, f"{name} ({mutant.bug}) passed the gate\n{run.output[-3000:]}"
    assert run.failed & mutant.catches, f"{name}: failed {sorted(run.failed)}, expected one of {sorted(mutant.catches)}"
    unrelated = run.failed - mutant.catches - mutant.allowed
    assert not unrelated, f"{name} ({mutant.bug}) also failed unrelated properties {sorted(unrelated)}"
