"""Run the gate as a user does (``python -m autograd_props SOURCE`` in a subprocess) and read its
verification.json."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class GateRun:
    exit_code: int
    failed: frozenset[str]  # properties with at least one failing cell
    passed: frozenset[str]
    output: str
    cells: tuple[dict, ...]


def run_gate(
    funcs: str,
    *extra: str,
    profile: str = "meta",
    env: dict[str, str] | None = None,
    timeout: float | None = 1800,
    cwd: Path = ROOT,
) -> GateRun:
    """``python -m autograd_props FUNCS`` in a subprocess; the property outcomes from its report.

    ``profile`` is one of the suite's Hypothesis profiles without its prefix (``meta``, ``ci``,
    ``dev``, ``thorough``).  ``timeout`` (seconds, None for none) guards the meta-tests against a
    hung gate; the commands that run it many times on a shared machine (soak, corpus table) pass
    None.  ``funcs=""`` passes no module (the environment variable or the built-in set).
    """
    with tempfile.TemporaryDirectory() as report_dir:
        command = [
            sys.executable, "-m", "autograd_props", *([funcs] if funcs else []),
            "-p", "no:cacheprovider", f"--hypothesis-profile=autograd-props-{profile}", "--report-dir", report_dir, *extra,
        ]
        full_env = {**os.environ, **(env or {})}
        if env is None or "AUTOGRAD_PROPS_FUNCS" not in env:
            full_env.pop("AUTOGRAD_PROPS_FUNCS", None)
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=full_env, timeout=timeout)
        report = Path(report_dir) / "verification.json"
        cells = tuple(json.loads(report.read_text())["cells"]) if report.exists() else ()
    return GateRun(
        exit_code=proc.returncode,
        failed=frozenset(c["prop"] for c in cells if c["outcome"] == "failed"),
        passed=frozenset(c["prop"] for c in cells if c["outcome"] == "passed"),
        output=proc.stdout + proc.stderr,
        cells=cells,
    )
