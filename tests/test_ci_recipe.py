""".github/workflows/ci.yml, the CI recipe: it parses as YAML, runs one job per env of tox.ini's
matrix label (each on its own Python), under the ci profile, and uploads the report.

The env names come from tox itself (``tox -m matrix --listenvs``), not from re-parsing tox.ini:
tox runs any factor name it is given (a misspelt ``py310-torch22`` would run with no torch pin),
so "the env exists" means "tox's matrix label lists it".
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.corpus.gate_runner import ROOT

yaml = pytest.importorskip("yaml", reason="PyYAML (in the test extra) parses the workflow")

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _tox_envs(*selection: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tox", "-c", str(ROOT / "tox.ini"), *selection, "--listenvs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def job() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(workflow, dict) and set(workflow["jobs"]) == {"tox", "wheel"}
    # YAML 1.1 reads the key `on` as True.
    assert {"push", "pull_request"} <= set(workflow.get("on", workflow.get(True)))
    return workflow["jobs"]["tox"]


def test_one_job_per_env_of_the_tox_matrix(job):
    include = job["strategy"]["matrix"]["include"]
    envs = [entry["env"] for entry in include]
    assert len(envs) == len(set(envs)), "an env is listed twice"
    matrix = _tox_envs("-m", "matrix")
    assert set(envs) == set(matrix), f"workflow only: {set(envs) - set(matrix)}; tox only: {set(matrix) - set(envs)}"
    assert job["strategy"]["fail-fast"] is False


def test_each_job_runs_its_env_on_the_matching_python(job):
    for entry in job["strategy"]["matrix"]["include"]:
        factor = re.fullmatch(r"py3(\d+)-torch\d+", entry["env"])
        assert factor, entry
        assert str(entry["python"]) == f"3.{factor[1]}", entry


def test_the_steps_run_tox_under_the_ci_profile_and_upload_the_report(job):
    assert str(job["env"]["CI"]).lower() == "true"  # the gate uses autograd-props-ci whenever CI is set
    steps = job["steps"]
    setup = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    runs = [s["run"] for s in steps if "run" in s]
    assert "tox -e ${{ matrix.env }} -- -n auto" in runs
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == "report"
    assert "${{ matrix.env }}" in upload["with"]["name"]  # one artifact per job, no name clash


def test_the_quick_label_is_the_default_env():
    assert _tox_envs("-m", "quick") == ["py311-torch213"]
    assert "py311-torch213" in _tox_envs("-m", "matrix")


def test_a_release_wheel_is_built_and_kept():
    wheel = yaml.safe_load(WORKFLOW.read_text())["jobs"]["wheel"]
    runs = [s["run"] for s in wheel["steps"] if "run" in s]
    assert "python -m pip wheel . --no-deps -w dist" in runs
    upload = next(s for s in wheel["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "dist/*.whl" and upload["with"]["if-no-files-found"] == "error"
