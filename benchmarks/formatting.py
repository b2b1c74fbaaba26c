"""Formatting numbers for the benchmark report: times, bytes, ratios and sizes as table cells.

A missing or non-finite value is shown as ``—``.
"""

from __future__ import annotations

import math

__all__ = ["fmt_bytes", "fmt_numel", "fmt_ratio", "fmt_time"]


def fmt_time(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def fmt_ratio(r: float | None) -> str:
    if r is None or not math.isfinite(r):
        return "—"
    return f"{r:.3f}" if r >= 0.001 else f"{r:.2g}"


def fmt_numel(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n} ({n >> 20}M)"
    return str(n)
