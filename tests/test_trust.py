"""A run you can trust: no false greens, no hangs, honest reports of interrupted or broken runs,
logs a user can read, advice a user can follow.  Each runs the gate as a user does, in a
subprocess (``tests/corpus/gate_runner.py``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from autograd_props.compat import TORCH_VERSION
from autograd_props.devices import KNOWN_DEVICE_TYPES, available_devices
from tests.corpus.gate_runner import ROOT, run_gate

pytestmark = pytest.mark.slow

MISSING = next((d for d in KNOWN_DEVICE_TYPES if d not in available_devices()), None)
needs_a_missing_device = pytest.mark.skipif(MISSING is None, reason="every device type is present on this machine")


@needs_a_missing_device
def test_an_absent_device_is_a_usage_error_naming_it():
    run = run_gate("funcs.square:SPEC", "--devices", f"cpu,{MISSING}", "-m", "forward")
    assert run.exit_code == 4, run.output[-2000:]
    assert f"{MISSING} not available on this machine" in run.output and "--skip-missing-devices" in run.output
    assert not run.cells  # nothing ran, and no report claims otherwise


@needs_a_missing_device
def test_a_run_in_which_no_cell_ran_does_not_pass():
    run = run_gate("funcs.square:SPEC", "--devices", MISSING, "--skip-missing-devices", "-m", "forward")
    assert run.exit_code == 5, run.output[-2000:]
    assert "no cell ran" in run.output
    assert run.cells and all(c["outcome"] == "skipped" for c in run.cells)


def test_a_hung_example_fails_its_cell_naming_the_call_and_the_run_goes_on():
    started = time.monotonic()
    run = run_gate("tests.corpus.sleeping_function", "-m", "forward or vjp_native", "-k", "float64", "--example-timeout", "2", timeout=300)
    assert time.monotonic() - started < 120, "the per-example limit did not stop the hang"
    assert run.exit_code == 1, run.output[-3000:]
    cells = {c["prop"]: c for c in run.cells}
    assert cells["forward"]["outcome"] == "passed"  # the other cells carried on
    error = cells["vjp_native"]["failures"][0]["error"]
    assert error.startswith("ExampleTimedOut: vjp_native[sleeper-float64-cpu]: an example ran past the 2 s limit in backward")
    assert "sleeping_function.py" in error
    assert "check_vjp_native(spec" in cells["vjp_native"]["failures"][0]["reproducer"]


def test_after_a_hang_the_other_cells_of_the_spec_share_one_more_limit_then_fail_at_once():
    # Every cell of the sleeper that calls its backward would hang: before, each paid the full
    # limit (about 2 hours for one spec at the default 120 s).
    run = run_gate("tests.corpus.sleeping_function", "-k", "float64", "--example-timeout", "2", timeout=900)
    assert run.exit_code == 1, run.output[-3000:]
    errors = {c["prop"]: c["failures"][0]["error"] for c in run.cells if c["outcome"] == "failed"}
    hung = [p for p, e in errors.items() if e.startswith("ExampleTimedOut")]
    refused = [p for p, e in errors.items() if "SpecHungBefore" in e]
    first = hung[0]
    assert 1 <= len(hung) <= 2, errors  # the first hang, and at most one more within the shared limit
    assert len(refused) >= 10 and set(hung) | set(refused) == set(errors), errors
    assert all(f"not run: sleeper hung in {first}[sleeper-float64-cpu] (in backward" in errors[p] for p in refused)
    assert {c["prop"]: c["outcome"] for c in run.cells}["forward"] == "passed"  # cells before the hang are kept


def _start(args: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, env={**os.environ, **(env or {})}, preexec_fn=_as_from_a_terminal,
    )


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_an_interrupted_run_says_so_lists_what_did_not_run_and_leaves_no_stale_report(tmp_path):
    report = tmp_path / "report"
    report.mkdir()
    (report / "verification.md").write_text("# autograd-props verification report\n\nan earlier run, all passing\n")
    asleep = tmp_path / "asleep"
    process = _start(["-m", "autograd_props", "tests.corpus.sleeping_function", "--example-timeout", "600",
                      "-p", "no:cacheprovider", "--report-dir", str(report)], env={"SLEEPING_FUNCTION_MARKER": str(asleep)})
    try:
        # At start the earlier report is replaced by one that says a run is under way.
        assert _wait_for(lambda: "RUNNING" in (report / "verification.md").read_text(), 60)
        assert _wait_for(asleep.exists, 120), "the sleeping backward was never reached"
        output = _interrupt(process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 2, output[-3000:]
    data = json.loads((report / "verification.json").read_text())
    assert data["header"]["state"].startswith("interrupted") and data["not_run"]
    assert (report / "verification.md").read_text().startswith("# autograd-props verification report: INTERRUPTED")
    assert "the run was INTERRUPTED" in output


def _interrupt(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=120)[0]


def _as_from_a_terminal() -> None:
    """In the child: SIGINT handled and unblocked, as in a process a user starts from a shell.
    A child inherits an ignored or blocked SIGINT, and in the full suite an xdist worker's was
    (a test run whose parent ignores SIGINT reproduces the hang: the interrupt never arrives)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _in_sessions(sessions: set[int]) -> list[int]:
    """Processes whose session is one of ``sessions`` (a gate child and everything it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[3]) in sessions and fields[0] != "Z":  # after ")": state ppid pgrp session; a zombie is dead
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the children through /proc")
def test_interrupting_gate_runs_reaps_every_child():
    marker = f"reap-marker-{os.getpid()}"  # a report dir name only these children carry
    script = (
        "from tests.corpus.gate_runner import run_gates\n"
        f"run_gates(['tests.corpus.sleeping_function'] * 4, '--example-timeout', '600', '-n', '2', '-o', 'cache_dir={marker}', workers=2, timeout=None)\n"
    )
    process = _start(["-c", script])
    try:
        # Two gate runs, each with its two xdist workers, are under way; each runs in a session of its own.
        assert _wait_for(lambda: len(_processes_with(marker)) >= 2, 120), "the gate runs did not start"
        sessions: set[int] = set()

        def workers_started() -> bool:  # xdist's workers join their gate run's session (slow on a loaded machine)
            sessions.clear()
            sessions.update(_processes_with(marker))
            return len(_in_sessions(sessions)) > len(sessions)

        assert _wait_for(workers_started, 120), "no xdist worker started in the gate runs' sessions"
        _interrupt(process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert _wait_for(lambda: not _processes_with(marker), 30), f"left behind: {_processes_with(marker)}"
    assert _wait_for(lambda: not _in_sessions(sessions), 30), f"left behind: {_in_sessions(sessions)}"


def test_an_unwritable_report_directory_is_a_usage_error_before_anything_runs(tmp_path):
    not_a_directory = tmp_path / "report"
    not_a_directory.write_text("a file, not a directory")
    proc = subprocess.run(
        [sys.executable, "-m", "autograd_props", "funcs.square:SPEC", "-p", "no:cacheprovider", "--report-dir", str(not_a_directory)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 4, proc.stdout[-2000:]
    assert f"--report-dir {not_a_directory}: cannot write the report there" in proc.stderr
    assert "passed" not in proc.stdout and "Traceback" not in proc.stderr


def test_several_modules_are_all_checked(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "autograd_props", "funcs.square:SPEC", "tests.corpus.softplus_correct",
         "-m", "forward", "-k", "float64", "-p", "no:cacheprovider", "--report-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    cells = json.loads((tmp_path / "verification.json").read_text())["cells"]
    assert {c["spec"] for c in cells} == {"square", "softplus"}


def test_torch_internal_logs_stay_quiet_and_a_repeated_failure_is_printed_once():
    compiled = run_gate("tests.corpus.mutants:COMPACTS_GRADIENTS", "-m", "compile", "-k", "float64")
    # dynamo fails inside itself on a backward that calls its parent class's backward from torch
    # 2.5 on; torch 2.1's dynamo compiles it (as eager, the compacted gradients and all)
    assert compiled.exit_code == (1 if TORCH_VERSION >= (2, 5) else 0), compiled.output[-2000:]
    assert "DEBUG    torch" not in compiled.output and len(compiled.output.splitlines()) < 1000
    raising = run_gate("tests.corpus.raising_function")  # one bug that every backward-calling property sees
    assert raising.exit_code == 1
    assert raising.output.count("backward exploded on purpose") < 3 * len([c for c in raising.cells if c["outcome"] == "failed"])
    assert "the same failure as" in raising.output


def test_advice_points_at_what_the_user_can_change():
    flipped = run_gate("tests.corpus.softplus_sign_flipped", "-m", "vjp_native", profile="ci")
    assert flipped.exit_code == 1 and "@reproduce_failure" not in flipped.output
    refused = run_gate("tests.corpus.health_checks:FILTERS_TOO_MUCH", "-m", "forward", "-k", "float64", profile="ci")
    assert refused.exit_code == 1
    assert "health check filter_too_much failed while drawing filters_too_much's examples" in refused.output
    assert "hypothesis={'suppress_health_check': {HealthCheck.filter_too_much: 'the reason'}}" in refused.output
    assert "to the suppress_health_check settings for this test" not in refused.output  # Hypothesis's own advice
    suppressed = run_gate("tests.corpus.health_checks:SUPPRESSED", "-m", "forward", "-k", "float64", profile="ci")
    assert suppressed.exit_code == 0, suppressed.output[-2000:]
    (cell,) = suppressed.cells
    assert "health check filter_too_much suppressed by the spec: only large tensors exercise the tiled path" in cell["notes"]
    budget = run_gate("tests.corpus.health_checks:THREE_EXAMPLES", "-m", "forward", "-k", "float64", profile="ci")
    assert [c["examples"] for c in budget.cells] == [3]


def test_a_reproducer_writes_integer_tensors_as_integers():
    from autograd_props.reproducer import literal

    assert literal(torch.tensor([[1, 2]])) == "torch.tensor([[1, 2]], dtype=torch.int64, device='cpu')"
    assert literal(torch.tensor([True, False])) == "torch.tensor([True, False], dtype=torch.bool, device='cpu')"
    assert literal(torch.tensor(0.5, dtype=torch.float16)) == "torch.tensor(0.5, dtype=torch.float16, device='cpu')"
