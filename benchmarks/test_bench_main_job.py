"""README's main job (the gate over the built-in Functions, ``CI=true``) with the current code
against the same job with the code of ``BEFORE``, the commit before the work on the gate's speed,
checked out into a temporary folder and run from there.  Target: the current run at most 0.4x the
earlier one, on 2 cores.

Timed (``python -m benchmarks.run``): every property, dtype and built-in, ``CI=true`` with the
``ci`` profile, two xdist workers, one round each, back to back.  As a smoke test (a plain
``pytest``): one property in float64, serial.  The report builder does not tabulate this measure
(``main-job``); docs/where-the-time-goes.md has the numbers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.corpus.gate_runner import ROOT, run_gate

BEFORE = "a717804"
WORKERS = 2


@pytest.fixture(scope="module")
def before_checkout():
    """The ``BEFORE`` commit's files in a temporary folder (``git archive``)."""
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "before.tar"
        made = subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), BEFORE], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"commit {BEFORE} is not in this checkout's history (a shallow clone?): {made.stderr.strip()}")
        checkout = Path(folder) / "before"
        with tarfile.open(archive) as tar:
            tar.extractall(checkout, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        env = {**os.environ, **_run_from(checkout)}
        imported = subprocess.run([sys.executable, "-c", "import autograd_props; print(autograd_props.__file__)"], env=env, cwd=checkout, capture_output=True, text=True)
        assert imported.stdout.startswith(str(checkout)), f"the earlier code is not what runs: {imported.stdout}{imported.stderr}"
        yield checkout


def _run_from(checkout: Path) -> dict[str, str]:
    """Its package and its funcs, ahead of the installed package."""
    return {"PYTHONPATH": os.pathsep.join((str(checkout / "src"), str(checkout)))}


@pytest.mark.parametrize("code", [BEFORE, "current"])
def test_main_job_cost(benchmark, timed: bool, code: str, request) -> None:
    options = ("-n", str(WORKERS)) if timed else ("-m", "vjp_native", "-k", "float64")
    env = {"CI": "true"}
    cwd = ROOT
    if code == BEFORE:
        cwd = request.getfixturevalue("before_checkout")
        env.update(_run_from(cwd))
    benchmark.group = "main job"
    benchmark.extra_info.update(function="built-ins", impl=code, numel=0, measure="main-job", device="cpu", workers=WORKERS if timed else 0)
    run = benchmark.pedantic(run_gate, args=("", *options), kwargs={"profile": "ci", "env": env, "cwd": cwd}, rounds=1, warmup_rounds=0)
    assert run.exit_code == 0, run.output[-3000:]
    assert run.cells
