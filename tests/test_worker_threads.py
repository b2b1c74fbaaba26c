"""Inside a pytest-xdist worker the gate gives torch its share of the cores (oversubscribed torch
threads made large examples 14x slower under -n 2), and leaves a thread count the user chose alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from autograd_props.worker_threads import THREAD_ENV_VARS

PROBE = (
    "import torch; before = torch.get_num_threads(); "
    "from autograd_props.worker_threads import share_cores_among_workers; "
    "print(before, share_cores_among_workers(), torch.get_num_threads())"
)


def _threads(**env: str) -> tuple[int, int, int]:
    clean = {k: v for k, v in os.environ.items() if k not in (*THREAD_ENV_VARS, "PYTEST_XDIST_WORKER_COUNT")}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True)
    before, returned, after = map(int, out.stdout.split())
    assert returned == after
    return before, returned, after


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@pytest.mark.parametrize("workers", [1, 2, 64])
def test_a_worker_gets_its_share_of_the_cores(workers):
    before, _, after = _threads(PYTEST_XDIST_WORKER_COUNT=str(workers))
    assert after == min(before, max(1, _cores() // workers))


def test_outside_xdist_torch_keeps_its_threads():
    before, _, after = _threads()
    assert after == before


def test_a_thread_count_chosen_through_the_environment_is_kept():
    before, _, after = _threads(PYTEST_XDIST_WORKER_COUNT="64", OMP_NUM_THREADS="2")
    assert after == before == 2
