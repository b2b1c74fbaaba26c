"""The cost of no spec: the gate over ``discover:tests.discoverable.layers`` (three Functions of
three files' styles: a weight matrix, a dim, an eps; inference included) against the gate over
hand-written specs of the same Functions (``handwritten_layers.py``), side by side.

Timed (``python -m benchmarks.run``): every property and dtype, ``CI=true`` with the ``ci``
profile, two xdist workers (each worker infers the specs again), one round each.  As a smoke
test (a plain ``pytest``): one property in float64, serial.
"""

from __future__ import annotations

import pytest

from tests.corpus.gate_runner import run_gate

SOURCES = {"discover": "discover:tests.discoverable.layers", "hand-written": "benchmarks.handwritten_layers"}
WORKERS = 2


@pytest.mark.parametrize("impl", list(SOURCES))
def test_gate_run_discover_vs_hand_written(benchmark, timed: bool, impl: str) -> None:
    options = ("-n", str(WORKERS)) if timed else ("-m", "vjp_native", "-k", "float64")
    benchmark.group = "gate run: discover vs hand-written specs"
    benchmark.extra_info.update(function="layers", impl=impl, numel=0, measure="discover-run", device="cpu", workers=WORKERS if timed else 0)
    run = benchmark.pedantic(
        run_gate, args=(SOURCES[impl], *options), kwargs={"profile": "ci", "env": {"CI": "true"}}, rounds=1, warmup_rounds=0
    )
    assert run.exit_code == 0, run.output[-3000:]  # both sides pass: what is timed is a full run
    assert {c["spec"] for c in run.cells} == {"Linear", "Softmax", "RMSNorm"}
