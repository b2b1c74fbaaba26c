"""One C allocator regime for a whole benchmark run, so every round pays for its memory alike.

glibc's malloc adapts its mmap threshold (the size from which a block gets pages of its own,
returned on free) to the blocks freed so far, and carves small allocations out of freed large
ones.  At 10^6 float64 elements every tensor is 8 MB, so whether a round's allocations reuse
touched memory or take 2,048 fresh page faults each depends on what ran before it, and flips
from round to round and run to run.  On the same machine (docs/benchmarking.md), square's strict
check at 10^6 had a median of 100 ms in one run and 37-69 ms in others, with up to 7,800 page faults
per round, while its forward plus backward stayed at 3.5 ms with none: the ratio measured the
heap's history.  Fixing the thresholds high does not settle it (the heap still grows by
fragmentation, in bursts of faults).

``fresh`` (the default for timed runs) fixes the mmap threshold at glibc's initial 128 KiB with
``mallopt``, which also stops its adaptation: every block from 128 KiB up is mapped when
allocated and unmapped when freed, so every round of every benchmark pays the page faults of the
large tensors it makes, as a process's first use of them does, and nothing depends on the order
of the benchmarks.  Tensors under 128 KiB (16,384 float64 elements) are untouched.  ``adaptive``
leaves glibc as it is.  Elsewhere than glibc nothing is changed; the run's machine_info says which
regime it had.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["MMAP_THRESHOLD", "REGIMES", "set_regime"]

REGIMES = ("fresh", "adaptive")
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value (DEFAULT_MMAP_THRESHOLD_MIN)


def set_regime(regime: str) -> str:
    """Put this process's allocator in ``regime``; returns what machine_info should record."""
    if regime not in REGIMES:
        raise ValueError(f"allocator regime {regime!r}: choose from {', '.join(REGIMES)}")
    if regime == "adaptive":
        return "adaptive (the C allocator's own)"
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return "adaptive (no glibc mallopt here)"
    if not mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD):
        raise RuntimeError(f"glibc's mallopt refused an mmap threshold of {MMAP_THRESHOLD} bytes")
    return f"fresh (glibc mallopt: every block from {MMAP_THRESHOLD >> 10} KiB mapped on allocation, unmapped on free)"


def _glibc_mallopt():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None  # musl or another libc: no such threshold
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt.restype = ctypes.c_int
    return libc.mallopt
