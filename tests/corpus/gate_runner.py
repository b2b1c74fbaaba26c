"""Run the gate as a user does (``python -m autograd_props SOURCE`` in a subprocess) and read its
verification.json; several at once for the meta-tests, with every child reaped on an interrupt."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class GateRun:
    exit_code: int
    failed: frozenset[str]  # properties with at least one failing cell
    passed: frozenset[str]
    output: str
    cells: tuple[dict, ...]
    report: dict = dataclasses.field(default_factory=dict)

    def of_spec(self, name: str) -> GateRun:
        """This run restricted to one spec's cells, as if the gate had checked that spec alone:
        exit 1 if a cell of it failed, 0 if its cells ran and passed, else the run's own code."""
        cells = tuple(c for c in self.cells if c["spec"] == name)
        failed = frozenset(c["prop"] for c in cells if c["outcome"] == "failed")
        passed = frozenset(c["prop"] for c in cells if c["outcome"] == "passed")
        exit_code = 1 if failed else 0 if passed and self.exit_code in (0, 1) else self.exit_code
        return GateRun(exit_code, failed, passed, self.output, cells, self.report)


def _session(session: int) -> list[int]:
    """Every process of ``session`` (on Linux, from /proc; elsewhere only its leader's group)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    members = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != "Z":  # after ")": state, ppid, pgrp, session
                members.append(int(entry.name))
    return members


def _kill(process: subprocess.Popen) -> None:
    """The child and everything it started: its own session, whose members (xdist workers put
    themselves in process groups of their own) are killed one by one."""
    for pid in _session(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def kill_all() -> None:
    """Reap every gate subprocess still running."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for process in live:
        _kill(process)


def run_gate(
    funcs: str | Sequence[str],
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
    None.  ``funcs=""`` passes no module (the environment variable or the built-in set); a
    sequence passes several, checked in one run (their spec names must differ).  The
    child runs in a session of its own, killed with all it started if this call is interrupted.
    """
    with tempfile.TemporaryDirectory() as report_dir:
        command = [
            sys.executable, "-m", "autograd_props", *([funcs] if isinstance(funcs, str) and funcs else [] if not funcs else list(funcs)),
            "-p", "no:cacheprovider", f"--hypothesis-profile=autograd-props-{profile}", "--report-dir", report_dir, *extra,
        ]
        full_env = {**os.environ, **(env or {})}
        if env is None or "AUTOGRAD_PROPS_FUNCS" not in env:
            full_env.pop("AUTOGRAD_PROPS_FUNCS", None)
        process = subprocess.Popen(
            command, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        with _LIVE_LOCK:
            _LIVE.add(process)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:  # a timeout, or an interrupt of this process: the child goes too
            _kill(process)
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(process)
        path = Path(report_dir) / "verification.json"
        report = json.loads(path.read_text()) if path.exists() else {}
    cells = tuple(report.get("cells", ()))
    return GateRun(
        exit_code=process.returncode,
        failed=frozenset(c["prop"] for c in cells if c["outcome"] == "failed"),
        passed=frozenset(c["prop"] for c in cells if c["outcome"] == "passed"),
        output=stdout + stderr,
        cells=cells,
        report=report,
    )


def batches(sources: Sequence[str], spec_name: Callable[[str], str], size: int) -> list[tuple[str, ...]]:
    """``sources`` in groups of at most ``size`` whose specs have distinct names (one gate run can
    check several specs, not two of one name), in order, each source in the first group it fits."""
    groups: list[list[str]] = []
    for source in sources:
        name = spec_name(source)
        group = next((g for g in groups if len(g) < size and name not in {spec_name(s) for s in g}), None)
        if group is None:
            groups.append(group := [])
        group.append(source)
    return [tuple(g) for g in groups]


def run_batched(groups: Sequence[Sequence[str]], spec_name: Callable[[str], str], *extra: str, **options) -> dict[str, GateRun]:
    """One gate run per group (several specs at once: each run's start-up is paid once), the
    result of each source restricted to its own spec's cells."""
    runs = run_gates([tuple(g) for g in groups], *extra, **options)
    return {source: runs[tuple(group)].of_spec(spec_name(source)) for group in groups for source in group}


def run_gates(sources: Sequence[str | tuple[str, ...]], *extra: str, workers: int | None = None, **options) -> dict:
    """``run_gate`` for each source (with ``extra`` pytest options), ``workers`` at a time
    (default: one per core).

    On an interrupt (Ctrl-C), queued runs are cancelled and running ones killed with everything
    they started, before the interrupt goes on.
    """
    workers = workers or max(1, min(len(sources), os.cpu_count() or 1))
    pool = concurrent.futures.ThreadPoolExecutor(workers)
    try:
        futures = {source: pool.submit(run_gate, source, *extra, **options) for source in sources}
        return {source: future.result() for source, future in futures.items()}
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        kill_all()
        raise
    finally:
        pool.shutdown(wait=True)
