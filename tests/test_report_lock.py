"""One gate run per report directory at a time (plugin/report_lock.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autograd_props.plugin.report_lock import LOCK_NAME, ReportDirBusy, lock_report_dir

HOLD = "import sys, time; from pathlib import Path; from autograd_props.plugin.report_lock import lock_report_dir; "


def _holder(directory) -> subprocess.Popen:
    """Another process holding the lock until it is killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD + f"h = lock_report_dir(Path({str(directory)!r})); print('locked', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_process_is_refused_while_the_first_holds_the_directory(tmp_path):
    holder = _holder(tmp_path)
    try:
        with pytest.raises(ReportDirBusy, match=rf"pid {holder.pid}\b"):
            lock_report_dir(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    # A holder that died (killed outright, as here) leaves nothing to clear by hand.
    handle = lock_report_dir(tmp_path)
    handle.close()


def test_the_lock_file_is_made_with_the_directory(tmp_path):
    directory = tmp_path / "new" / "report"
    handle = lock_report_dir(directory)
    try:
        assert (directory / LOCK_NAME).read_text() == str(__import__("os").getpid())
    finally:
        handle.close()


@pytest.mark.slow
def test_a_gate_run_into_a_busy_report_directory_is_a_usage_error_that_leaves_its_report(tmp_path):
    from tests.corpus.gate_runner import ROOT

    (tmp_path / "verification.md").write_text("the running run's report\n")
    holder = _holder(tmp_path)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "autograd_props", "funcs.square:SPEC", "-m", "forward", "-p", "no:cacheprovider",
             "--report-dir", str(tmp_path)],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"another gate run (pid {holder.pid}) is writing its report there" in proc.stderr
    assert (tmp_path / "verification.md").read_text() == "the running run's report\n"
