"""The cost of a failing run: the gate over a Function that fails most properties against the same
run over its correct twin, for two pairs of the corpus: the sign-flipped softplus, and a
classic-style linear layer (``forward(ctx, x, weight, bias)``) whose weight gradient is
sign-flipped.  Target: at most 3x, under ``CI=true`` on 2 cores.

Timed (``python -m benchmarks.run``): every property and dtype, ``CI=true`` with the ``ci``
profile (the shrinking a failing CI run does), two xdist workers, one round each, each pair back to
back.  As a smoke test (a plain ``pytest``): one property in float64, serial.
"""

from __future__ import annotations

import pytest

from tests.corpus.gate_runner import run_gate

PAIRS = {
    "softplus": {"sign-flipped": "tests.corpus.softplus_sign_flipped", "correct": "tests.corpus.softplus_correct"},
    "linear_classic": {
        "sign-flipped": "tests.corpus.linear_classic_weight_sign_flipped",
        "correct": "tests.corpus.linear_classic_correct",
    },
}
EXIT_CODES = {"sign-flipped": 1, "correct": 0}  # so that what is timed is the run it claims to be
WORKERS = 2


@pytest.mark.parametrize("function", list(PAIRS))
@pytest.mark.parametrize("impl", list(EXIT_CODES))
def test_gate_run_cost(benchmark, timed: bool, function: str, impl: str) -> None:
    options = ("-n", str(WORKERS)) if timed else ("-m", "vjp_native", "-k", "float64")
    benchmark.group = f"gate run {function}"
    benchmark.extra_info.update(function=function, impl=impl, numel=0, measure="gate-run", device="cpu", workers=WORKERS if timed else 0)
    run = benchmark.pedantic(
        run_gate, args=(PAIRS[function][impl], *options), kwargs={"profile": "ci", "env": {"CI": "true"}}, rounds=1, warmup_rounds=0
    )
    assert run.exit_code == EXIT_CODES[impl], run.output[-3000:]
    assert run.cells
