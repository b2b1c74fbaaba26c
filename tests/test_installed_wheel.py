"""The three ways in, as a new user meets them: a non-editable wheel in a fresh virtual environment,
used from an empty directory outside the checkout that holds only the user's own module.

The user module has one correct custom Function in the classic ``forward(ctx, ...)`` style (GOOD)
and the same Function with its backward's sign flipped (BAD).  Each way must pass GOOD, fail BAD
with the shrunk reproducer, and refuse an unknown module in one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.corpus.gate_runner import ROOT
from tests.once_per_run import once_per_run

pytestmark = pytest.mark.slow

USER_MODULE = '''
import torch
from autograd_props import FunctionSpec, tensors


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x


class SignFlipped(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return -grad_output * 2 * x


def square_args(dtype, device):
    return tensors(dtype=dtype, device=device).map(lambda x: (x,))


GOOD = FunctionSpec(name="good", function=Square.apply, reference=torch.square, args=square_args)
BAD = FunctionSpec(name="bad", function=SignFlipped.apply, reference=torch.square, args=square_args)
'''
# The shrunk failure (--full-shrink: no time bound, so the same on a busy machine): the smallest
# input that shows a flipped sign, 1.0, with cotangent 1.0.
SHRUNK = "args=(torch.tensor(1.0, dtype=torch.float64, device='cpu'),)"


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory, worker_id) -> tuple[Path, dict[str, str]]:
    """(the venv's python, the environment): the wheel installed in a fresh venv, once per run."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AUTOGRAD_PROPS_FUNCS", "VIRTUAL_ENV")}
    env["CI"] = "true"
    return once_per_run(tmp_path_factory, worker_id, "installed-wheel", lambda base: _install(base, env)), env


def _install(base: Path, env: dict[str, str]) -> Path:
    dist, venv = base / "dist", base / "venv"
    built = _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "-w", str(dist), "--no-deps", "-q"], ROOT, env)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("autograd_props-*.whl")
    assert _run([sys.executable, "-m", "venv", str(venv)], base, env).returncode == 0
    python = venv / "bin" / "python"
    installed = _run([str(python), "-m", "pip", "install", "-q", str(wheel), "torch==2.13.0"], base, env, timeout=1800)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return python


@pytest.fixture
def user(installed, tmp_path) -> tuple[Path, Path, dict[str, str]]:
    """(the venv's python, a user's directory of its own holding only usermod.py, the environment)."""
    python, env = installed
    home = tmp_path / "user-project"
    home.mkdir()
    (home / "usermod.py").write_text(USER_MODULE)
    return python, home, env


def test_the_installed_package_holds_only_autograd_props(user):
    python, home, env = user
    probe = _run([str(python), "-c", "import importlib.util as u; print([n for n in ('funcs', 'properties', 'tests', 'tools') if u.find_spec(n)])"], home, env)
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr
    typed = _run([str(python), "-c", "import autograd_props, pathlib; print((pathlib.Path(autograd_props.__file__).parent / 'py.typed').is_file())"], home, env)
    assert typed.stdout.strip() == "True", typed.stdout + typed.stderr  # PEP 561 marker shipped


def test_command_passes_the_correct_function_and_writes_the_report(user):
    python, home, env = user
    run = _run([str(python), "-m", "autograd_props", "usermod:GOOD"], home, env)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    report = (home / "report" / "verification.md").read_text()
    assert "| good |" in report and "FAIL" not in report


def test_command_fails_the_sign_flip_with_the_shrunk_reproducer_that_runs_when_pasted(user):
    python, home, env = user
    run = _run([str(python), "-m", "autograd_props", "usermod:BAD", "-m", "vjp_native", "--full-shrink", "--report-dir", "bad-report"], home, env)
    assert run.returncode == 1, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Reproduce with:" in run.stdout and SHRUNK in run.stdout
    failed_lines = [line for line in run.stdout.splitlines() if line.startswith("FAILED ")]
    assert failed_lines and all(line.startswith("FAILED gate_tests.py::TestGate::test_vjp_native[") for line in failed_lines), failed_lines
    import json

    cells = json.loads((home / "bad-report" / "verification.json").read_text())["cells"]
    reproducer = next(c for c in cells if c["key"] == "vjp_native[bad-float64-cpu]")["failures"][0]["reproducer"]
    pasted = _run([str(python), "-c", reproducer], home, env)  # any session where usermod imports
    assert pasted.returncode == 1 and "AssertionError: bad gradient of argument 0" in pasted.stderr, pasted.stderr[-2000:]


@pytest.mark.parametrize("command", [["-m", "autograd_props"], ["autograd-props"]], ids=["python-m", "console-script"])
def test_command_refuses_an_unknown_module_in_one_line(user, command):
    python, home, env = user
    program = [str(python), *command] if command[0] == "-m" else [str(python.parent / command[0])]
    run = _run([*program, "no_such_module"], home, env)
    assert run.returncode == 4
    assert run.stdout == "" and run.stderr.count("\n") == 1 and "no_such_module" in run.stderr, run.stderr


def test_command_without_a_module_outside_the_checkout_says_one_is_needed(user):
    python, home, env = user
    run = _run([str(python), "-m", "autograd_props"], home, env)
    assert run.returncode == 4 and run.stderr.count("\n") == 1 and "no spec module given" in run.stderr, run.stderr


def _in_suite(home: Path, name: str, source: str) -> Path:
    (home / f"test_{name}.py").write_text(f"from autograd_props import gate\n\nTest{name.title()} = gate({source!r})\n")
    return home / f"test_{name}.py"


def test_in_suite_passes_fails_and_refuses(user):
    python, home, env = user
    (home / "test_own.py").write_text("def test_users_own_test():\n    assert 1 + 1 == 2\n")
    good = _run([str(python), "-m", "pytest", str(_in_suite(home, "good", "usermod:GOOD")), "test_own.py", "-rA", "--report-dir", "suite-report"], home, env)
    assert good.returncode == 0, good.stdout[-4000:]
    assert "PASSED test_own.py::test_users_own_test" in good.stdout  # the user's own tests run beside the gate
    assert "| good |" in (home / "suite-report" / "verification.md").read_text()
    bad = _run([str(python), "-m", "pytest", str(_in_suite(home, "bad", "usermod:BAD")), "-m", "vjp_native"], home, env)
    assert bad.returncode == 1 and SHRUNK in bad.stdout, bad.stdout[-4000:]
    missing = _run([str(python), "-m", "pytest", str(_in_suite(home, "missing", "no_such_module"))], home, env)
    assert missing.returncode == 4, missing.stdout[-2000:] + missing.stderr[-2000:]
    assert "no_such_module" in missing.stderr and missing.stderr.strip().count("\n") == 0, missing.stderr


def test_check_from_python(user):
    python, home, env = user
    script = textwrap.dedent(
        """
        import autograd_props, usermod
        report = autograd_props.check(usermod.GOOD, properties=["forward", "vjp_native", "vmap"])
        print("GOOD", report.outcomes)
        try:
            autograd_props.check(usermod.BAD, properties=["vjp_native"])
        except autograd_props.CheckFailure as failure:
            print("BAD", failure)
        try:
            autograd_props.check("no_such_module")
        except autograd_props.SpecSourceError as error:
            print("MISSING", error)
        """
    )
    run = _run([str(python), "-c", script], home, env)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "GOOD {'forward': 'passed', 'vjp_native': 'passed', 'vmap': 'passed'}" in run.stdout
    assert "BAD autograd-props: 4 of 4 cells failed" in run.stdout and "Reproduce with:" in run.stdout and SHRUNK in run.stdout
    assert "MISSING cannot import module 'no_such_module'" in run.stdout


USER_PACKAGE = {
    "__init__.py": "",
    "activations.py": '''
import torch


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x
''',
    "layers.py": '''
import torch


class Scale(torch.autograd.Function):
    @staticmethod
    def forward(x, weight):
        return x * weight

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        return (grad_output * weight).sum_to_size(x.shape), -(grad_output * x).sum_to_size(weight.shape)
''',
}


def test_discover_checks_a_package_with_no_spec(user):
    """``autograd-props discover mypkg`` from the user's directory: a report over a package of
    several files, the flipped sign of one Function caught with a reproducer that runs as printed."""
    python, home, env = user
    package = home / "mypkg"
    package.mkdir()
    for name, text in USER_PACKAGE.items():
        (package / name).write_text(text)
    run = _run([str(python.parent / "autograd-props"), "discover", "mypkg", "-m", "vjp_native", "-k", "float64"], home, env)
    assert run.returncode == 1, run.stdout[-4000:] + run.stderr[-2000:]
    assert "2 found, 2 inferred, 0 not inferred" in run.stdout
    import json

    cells = {c["key"]: c for c in json.loads((home / "report" / "verification.json").read_text())["cells"]}
    assert cells["vjp_native[Square-float64-cpu]"]["outcome"] == "passed"
    failure = cells["vjp_native[Scale-float64-cpu]"]["failures"][0]
    assert failure["error"].startswith("backward is not the derivative of forward")
    pasted = _run([str(python), "-c", failure["reproducer"]], home, env)
    error = failure["error"].split(". ", 1)[1]  # after the reading of the failure: the check's own error
    assert pasted.returncode == 1 and error.splitlines()[0][:200] in pasted.stderr, (error, pasted.stderr[-2000:])
