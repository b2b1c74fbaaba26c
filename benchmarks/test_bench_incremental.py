"""The verdict cache: README's main job run cold (``--no-cache``: every cell runs) against the same
run warm (nothing changed since it passed: every pass reused).  Target: warm at most 0.1x cold.

Timed (``python -m benchmarks.run -k incremental``): the gate over the built-in set under
``CI=true`` (the derandomized ``ci`` profile, which the cache needs), two xdist workers, one round
each, cold first.  The warm run fills its cache first, untimed, when it runs alone.  As a smoke
test (a plain ``pytest``): one property in float64, serial.  The cache is a folder of its own
(``AUTOGRAD_PROPS_BENCH_CACHE``, default a temporary one), never the checkout's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.corpus.gate_runner import ROOT

WORKERS = 2


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    given = os.environ.get("AUTOGRAD_PROPS_BENCH_CACHE")
    if given:
        yield Path(given)
        return
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def _gate(cache: Path, report: Path, timed: bool, *extra: str) -> dict:
    options = ["-n", str(WORKERS)] if timed else ["-m", "forward", "-k", "float64"]
    env = {**os.environ, "CI": "true"}
    env.pop("AUTOGRAD_PROPS_FUNCS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "autograd_props", *options, "-p", "no:randomly", "-o", f"cache_dir={cache}",
         "--report-dir", str(report), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((report / "verification.json").read_text())


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_gate_run_with_the_verdict_cache(benchmark, timed: bool, cache: str, cache_dir: Path, tmp_path: Path) -> None:
    benchmark.group = "gate run verdict cache"
    benchmark.extra_info.update(function="builtin", impl=cache, numel=0, measure="gate-run", device="cpu", workers=WORKERS if timed else 0)
    filled = cache_dir / "filled"

    def fill() -> None:  # the warm run needs a run before it; the cold one, when it ran first, was that run
        if cache == "warm" and not filled.exists():
            _gate(cache_dir, tmp_path / "fill", timed, "--no-cache")
            filled.write_text("")

    extra = ("--no-cache",) if cache == "cold" else ()
    report = benchmark.pedantic(_gate, args=(cache_dir, tmp_path / "report", timed, *extra), setup=fill, rounds=1, warmup_rounds=0)
    passed = [c for c in report["cells"] if c["outcome"] == "passed"]
    assert passed
    if cache == "cold":
        assert not any(c["cached"] for c in passed)
        filled.write_text("")
    else:
        assert all(c["cached"] for c in passed), "a warm run with no change ran a cell"
