"""Minor page faults per call: the cost of fresh memory, which a time alone does not show.

At 10^6 float64 elements every tensor is 8 MB.  Whether an allocation of that size reuses memory
the process already touched, or gets fresh pages from the kernel (2,048 page faults, a few ms),
depends on the C allocator's state (glibc's adaptive mmap and trim thresholds), which the calls
before it leave behind.  So two benchmarks of the same work can differ by that cost alone.
Each check benchmark records the median faults of its rounds in ``extra_info["minor_faults"]``
(``None`` where the platform has no ``getrusage``), so a slow median can be told apart from load.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

__all__ = ["FaultCounter", "minor_faults"]


def minor_faults() -> int | None:
    """This process's minor page faults so far, or None where they cannot be read."""
    if resource is None:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


class FaultCounter:
    """Wrap a zero-argument call so each call's minor page faults are recorded."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._call = call
        self.counts: list[int] = []

    def __call__(self) -> Any:
        before = minor_faults()
        result = self._call()
        after = minor_faults()
        if before is not None and after is not None:
            self.counts.append(after - before)
        return result

    def median(self) -> float | None:
        return statistics.median(self.counts) if self.counts else None
