"""--xfails-file and --skips-file: expected failures and skips of a user's specs, read from files.

Each test runs the gate in a subprocess on the sign-flipped softplus (whose backward is wrong, so
vjp_native and vjp_finite_differences fail), restricted with -m to those two properties and
forward (which passes).  Entries are cell keys, ``property[spec-dtype-device]``.
"""

from __future__ import annotations

import pytest

from tests.corpus.gate_runner import run_gate

pytestmark = pytest.mark.slow

FLIPPED = "tests.corpus.softplus_sign_flipped"
ONLY = ("-m", "vjp_native or vjp_finite_differences or forward")
NATIVE = "vjp_native[softplus-*]"
FINITE_DIFFERENCES = "vjp_finite_differences"
FORWARD = "forward[softplus-float64-cpu]"


def _file(tmp_path, text: str, name: str = "expected.txt") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _cells(run, prop: str) -> list[dict]:
    return [c for c in run.cells if c["prop"] == prop]


def test_listing_every_failing_cell_makes_the_run_pass(tmp_path):
    xfails = _file(
        tmp_path,
        "# the known bug, one line per failing test\n"
        f"{NATIVE}  # sign error in backward, tracked as mypkg#12\n"
        f"\n{FINITE_DIFFERENCES}   #   the same bug seen by finite differences\n",
    )
    run = run_gate(FLIPPED, *ONLY, "--xfails-file", xfails)
    assert run.exit_code == 0, run.output[-3000:]
    native = _cells(run, "vjp_native")
    assert len(native) == 4 and all(c["outcome"] == "xfailed" for c in native)
    assert all(c["reason"] == f"--xfails-file {xfails}:2: sign error in backward, tracked as mypkg#12" for c in native)
    assert all("check_vjp_native(spec" in c["failures"][0]["reproducer"] for c in native)
    (finite,) = _cells(run, "vjp_finite_differences")
    assert finite["outcome"] == "xfailed" and finite["reason"].endswith(":4: the same bug seen by finite differences")
    assert all(c["outcome"] == "passed" for c in _cells(run, "forward"))
    assert "StaleExpectationWarning" not in run.output
    assert "x  x" in run.output  # the terminal matrix marks them as expected failures


def test_an_unlisted_failure_still_fails_and_the_report_shows_both(tmp_path):
    xfails = _file(tmp_path, f"{NATIVE}  # known\n")
    run = run_gate(FLIPPED, *ONLY, "--xfails-file", xfails)
    assert run.exit_code == 1
    assert {c["outcome"] for c in _cells(run, "vjp_native")} == {"xfailed"}
    assert {c["outcome"] for c in _cells(run, "vjp_finite_differences")} == {"failed"}


def test_a_listed_test_that_passes_fails_strictly(tmp_path):
    # A fixed bug must show, so that its entry is removed rather than hiding the next regression.
    xfails = _file(tmp_path, f"{FORWARD}  # believed broken\n")
    run = run_gate(FLIPPED, "-m", "forward", "--xfails-file", xfails)
    assert run.exit_code == 1
    (cell,) = [c for c in _cells(run, "forward") if c["dtype"] == "float64"]
    assert cell["outcome"] == "failed" and "[XPASS(strict)]" in cell["output"]


def test_skips_file_skips_with_its_reason(tmp_path):
    skips = _file(tmp_path, f"{NATIVE}  # not ours to fix\n{FINITE_DIFFERENCES}  # not ours either\n")
    run = run_gate(FLIPPED, *ONLY, "--skips-file", skips)
    assert run.exit_code == 0, run.output[-3000:]
    assert {c["outcome"] for c in _cells(run, "vjp_native")} == {"skipped"}
    assert all(c["reason"] == f"--skips-file {skips}:1: not ours to fix" for c in _cells(run, "vjp_native"))


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_an_entry_that_matches_nothing_is_warned_about_once(tmp_path, workers):
    xfails = _file(
        tmp_path,
        f"{NATIVE}  # known\n{FINITE_DIFFERENCES}  # known\n"
        "vjp_native[no_such_spec-*]  # stale\n",
    )
    run = run_gate(FLIPPED, *ONLY, "--xfails-file", xfails, *workers)
    assert run.exit_code == 0, run.output[-3000:]
    message = f"--xfails-file {xfails}:3: 'vjp_native[no_such_spec-*]' matches no cell"
    assert run.output.count(message) == 1, run.output[-3000:]
    assert "StaleExpectationWarning" in run.output


def test_an_entry_for_a_deselected_test_is_not_stale(tmp_path):
    # -k narrows the run; the entry still names a real test, so it is not reported as stale.
    xfails = _file(tmp_path, f"{NATIVE}  # known\n")
    run = run_gate(FLIPPED, "-m", "forward", "--xfails-file", xfails)
    assert run.exit_code == 0, run.output[-3000:]
    assert "matches no cell" not in run.output


@pytest.mark.parametrize(
    ("text", "line", "option"),
    [
        (f"{NATIVE}  # fine\n{FINITE_DIFFERENCES}\n", 2, "--xfails-file"),  # no reason
        (f"# header\n{NATIVE} sign error\n", 2, "--xfails-file"),  # a reason without '#'
        (f"{NATIVE}  #   \n", 1, "--skips-file"),  # an empty reason
    ],
    ids=["no-reason", "no-hash", "empty-reason"],
)
def test_a_line_without_a_reason_is_a_usage_error(tmp_path, text, line, option):
    path = _file(tmp_path, text)
    run = run_gate(FLIPPED, *ONLY, option, path)
    assert run.exit_code == 4, run.output[-2000:]
    assert f"{option} {path}:{line}:" in run.output and "expected one cell key, then '#' and a reason" in run.output
    assert "Traceback" not in run.output


def test_a_missing_file_is_a_usage_error(tmp_path):
    run = run_gate(FLIPPED, *ONLY, "--xfails-file", str(tmp_path / "nope.txt"))
    assert run.exit_code == 4
    assert f"--xfails-file {tmp_path / 'nope.txt'}: no such file" in run.output
