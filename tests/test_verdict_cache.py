"""The verdict cache, end to end: a user's package checked by ``python -m autograd_props`` twice.

The package's Function appends a line to a file each time its forward runs, so "the second run
runs nothing" is counted, not inferred from the report.  One baseline run fills the cache; each
test copies that checkout (its ``.pytest_cache/`` included), changes one thing and runs again.
Two properties in float64 keep each run to seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROPERTIES = "forward or vjp_native or vjp_finite_differences"

HELPERS = '''\
import os

import torch


def count_call():
    with open(os.environ["CPKG_CALLS"], "a") as calls:
        calls.write("forward\\n")


def sigmoid(x):
    return torch.sigmoid(x)
'''

OPS = '''\
import torch

from cpkg.helpers import count_call, sigmoid


class Softplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        count_call()
        ctx.save_for_backward(x)
        return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * sigmoid(x)
'''

CHECKS = '''\
import torch
import torch.nn.functional as F

from autograd_props import FunctionSpec, tensors
from cpkg.ops import Softplus

SPECS = [
    FunctionSpec(
        name="softplus",
        function=Softplus.apply,
        reference=F.softplus,
        args=lambda dtype, device: tensors(dtype=dtype, device=device).map(lambda x: (x,)),
        dtypes=(torch.float64,),
        opt_outs={"vjp_finite_differences": "checked elsewhere"},
    )
]
'''

UNRELATED = "VALUE = 1\n"


def _write_package(root: Path) -> None:
    package = root / "cpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(HELPERS)
    (package / "ops.py").write_text(OPS)
    (package / "checks.py").write_text(CHECKS)
    (package / "unrelated.py").write_text(UNRELATED)


class Run:
    def __init__(self, root: Path, proc: subprocess.CompletedProcess, calls_before: int) -> None:
        self.exit_code = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.calls = _calls(root) - calls_before  # forward calls during this run
        report = root / "report" / "verification.json"
        self.cells = {c["key"]: c for c in json.loads(report.read_text())["cells"]} if report.exists() else {}

    def outcomes(self) -> dict[str, tuple[str, bool]]:
        return {key: (c["outcome"], bool(c["cached"])) for key, c in self.cells.items()}


def _calls(root: Path) -> int:
    path = root / "calls.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def gate(root: Path, *extra: str) -> Run:
    before = _calls(root)
    env = {**os.environ, "CPKG_CALLS": str(root / "calls.txt")}
    env.pop("AUTOGRAD_PROPS_FUNCS", None)
    env.pop("CI", None)  # the profile is chosen explicitly below
    proc = subprocess.run(
        [sys.executable, "-m", "autograd_props", "cpkg.checks", "-m", PROPERTIES, "-p", "no:randomly", "-v",
         "--hypothesis-profile=autograd-props-ci", *extra],
        cwd=root, env=env, capture_output=True, text=True, timeout=900,
    )
    return Run(root, proc, before)


FRESH = {
    "forward[softplus-float64-cpu]": ("passed", False),
    "vjp_native[softplus-float64-cpu]": ("passed", False),
    "vjp_finite_differences[softplus-float64-cpu]": ("opted-out", False),
}
CACHED = {**FRESH, "forward[softplus-float64-cpu]": ("passed", True), "vjp_native[softplus-float64-cpu]": ("passed", True)}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """A checkout whose cache holds the passes of one run."""
    root = tmp_path_factory.mktemp("baseline")
    _write_package(root)
    run = gate(root)
    assert run.exit_code == 0, run.output[-3000:]
    assert run.outcomes() == FRESH
    assert run.calls > 0
    return root


@pytest.fixture
def checkout(baseline: Path, tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    shutil.copytree(baseline, root)
    return root


def test_an_unchanged_run_reports_cached_passes_and_runs_nothing(checkout):
    run = gate(checkout)
    assert run.exit_code == 0, run.output[-3000:]
    assert run.calls == 0, "a cached cell ran the Function"
    assert run.outcomes() == CACHED  # the opt-out stays what a rerun gives
    cell = run.cells["vjp_native[softplus-float64-cpu]"]
    assert cell["examples"] > 0 and cell["worst_margin"] is not None  # the verified pass's measurements
    assert "PASSED (cached, " in run.output and "verdict cache: 2 of 3 cells passed (cached" in run.output
    markdown = (checkout / "report" / "verification.md").read_text()
    assert "| softplus | pass (cached, " in markdown


def test_an_unchanged_run_under_xdist_runs_nothing(checkout):
    run = gate(checkout, "-n", "2")
    assert run.exit_code == 0, run.output[-3000:]
    assert run.calls == 0
    assert run.outcomes() == CACHED


def test_a_changed_function_reruns(checkout):
    ops = checkout / "cpkg" / "ops.py"
    ops.write_text(ops.read_text().replace("grad * sigmoid(x)", "sigmoid(x) * grad"))
    run = gate(checkout)
    assert run.exit_code == 0, run.output[-3000:]
    assert run.calls > 0
    assert run.outcomes() == FRESH


def test_a_changed_helper_in_the_package_reruns(checkout):
    helpers = checkout / "cpkg" / "helpers.py"
    helpers.write_text(helpers.read_text().replace("return torch.sigmoid(x)", "return 1 / (1 + torch.exp(-x))"))
    run = gate(checkout)
    assert run.calls > 0, "a changed helper the Function calls did not invalidate its passes"
    assert run.outcomes() == FRESH


def test_a_module_the_function_does_not_import_keeps_the_cache(checkout):
    (checkout / "cpkg" / "unrelated.py").write_text("VALUE = 2\n")
    run = gate(checkout)
    assert run.calls == 0
    assert run.outcomes() == CACHED


def test_no_cache_reruns_every_cell(checkout):
    run = gate(checkout, "--no-cache")
    assert run.exit_code == 0, run.output[-3000:]
    assert run.calls > 0
    assert run.outcomes() == FRESH


def test_a_failure_is_never_cached(checkout):
    ops = checkout / "cpkg" / "ops.py"
    ops.write_text(ops.read_text().replace("return grad * sigmoid(x)", "return -grad * sigmoid(x)"))
    first = gate(checkout)
    second = gate(checkout)
    for run in (first, second):
        assert run.exit_code == 1, run.output[-3000:]
        assert run.outcomes()["vjp_native[softplus-float64-cpu]"] == ("failed", False)
    assert second.calls > 0, "the failing cell was not run again"
    # The changed source invalidated forward's pass too; once it passes again, it is cached.
    assert first.outcomes()["forward[softplus-float64-cpu]"] == ("passed", False)
    assert second.outcomes()["forward[softplus-float64-cpu]"] == ("passed", True)


def test_a_random_profile_neither_reads_nor_writes_the_cache(checkout):
    run = gate(checkout, "--hypothesis-profile=autograd-props-dev")
    assert run.calls > 0
    assert run.outcomes() == FRESH
    assert "verdict cache off: the profile autograd-props-dev draws new examples on every run" in run.output
