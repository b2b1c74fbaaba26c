"""One torch thread per core, not per pytest-xdist worker.

torch sizes its intra-op thread pool to the machine's cores in every process, so ``-n N`` workers
run N times as many threads as there are cores.  Small tensors never use the pool; a large example
(sizes="large", tens of thousands of elements) does, and oversubscribed OpenMP threads wait on each
other: the chunked cross-entropy's vjp_native cells took 105 s under ``-n 2`` on 2 cores against
7.6 s in one process.  Inside a worker the gate gives torch its share of the cores, unless the user
chose a thread count through the environment.
"""

from __future__ import annotations

import functools
import os

import torch

__all__ = ["THREAD_ENV_VARS", "share_cores_among_workers"]

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what this process may use (containers, taskset)
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@functools.cache  # once per process: the thread count is process-wide
def share_cores_among_workers() -> int:
    """Limit torch's threads to this pytest-xdist worker's share of the cores; return the count in effect."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and workers.isdigit() and not any(os.environ.get(name) for name in THREAD_ENV_VARS):
        share = max(1, _cores() // max(1, int(workers)))
        if share < torch.get_num_threads():
            torch.set_num_threads(share)
    return torch.get_num_threads()
