"""A tensor's elements drawn as one Hypothesis bytes choice, decoded into ``elements()``'s classes.

Drawing every element as its own choices (which class, which sign, which float) costs about
100 µs per element on a 2-core machine, most of a gate run (docs/where-the-time-goes.md); one
bytes choice per tensor costs about as much as one element.  Each element takes four bytes:

- byte 0 picks the class (ordinary, exact zero, small, large: ``elements()``'s ranges, in its
  order), with the weights Hypothesis gave them when each element was a ``one_of`` of them
  (measured: about 35, 15, 22 and 28 in 100);
- byte 1's top bit is the sign, its next two bits the mode within the class: a simple value
  (1, 2, 0.5, ..., a power of two or ten, a bound), uniform (twice: Hypothesis's floats in a range
  fall mostly in its top decade, 87 in 100 of ``floats(tiny, 10)`` in [1, 10]), or a bound or
  log-uniform (the tiny magnitudes); the other 21 bits pick the value.

Smaller bytes are simpler values: all-zero bytes are 1.0 (the simplest value of the first class,
as a shrunk ``elements()`` draw is), so Hypothesis's shrinker, which lowers bytes, ends at small
integers, zeros and bounds, as it does when it shrinks floats.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

BYTES_PER_ELEMENT = 4
_VALUE_BITS = 21
_SIMPLE = (1.0, 2.0, 0.5, 3.0, 4.0, 0.25, 5.0, 10.0, 1.5, 8.0, 0.125, 6.0, 2.5, 7.0, 9.0, 0.75)
_POWERS = sorted({10.0**k for k in range(-45, 309)} | {2.0**k for k in range(-149, 1024)}, key=lambda v: abs(math.log(v)))


@dataclass(frozen=True)
class ElementClasses:
    """``elements()``'s classes: each a positive magnitude range ``(low, high)``, or None for an
    exact zero, both bounds exact in ``np_dtype``."""

    np_dtype: type
    parts: tuple[tuple[float, float] | None, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("ElementClasses: no class to draw from")
        if len(self.weights) != len(self.parts) or not all(w > 0 for w in self.weights):
            raise ValueError(f"ElementClasses: need a positive weight for each class, got {self.weights!r}")
        for part in self.parts:
            if part is not None and not (0 < part[0] <= part[1] and math.isfinite(part[1])):
                raise ValueError(f"ElementClasses: a range needs 0 < low <= high < inf, got {part!r}")

    def decode(self, raw: bytes, count: int) -> np.ndarray:
        """``count`` elements from ``count * BYTES_PER_ELEMENT`` bytes, in ``np_dtype``."""
        if len(raw) != count * BYTES_PER_ELEMENT:
            raise ValueError(f"ElementClasses.decode: {len(raw)} bytes for {count} elements")
        b = np.frombuffer(raw, dtype=np.uint8).reshape(count, BYTES_PER_ELEMENT).astype(np.int64)
        table = self._table
        which = np.searchsorted(table.thresholds, b[:, 0], side="right")
        mode = (b[:, 1] >> 5) & 3
        pick = ((b[:, 1] & 31) << 16) | (b[:, 2] << 8) | b[:, 3]
        low, high = table.low[which], table.high[which]
        fraction = pick / float((1 << _VALUE_BITS) - 1)
        log_uniform = np.exp(table.log_low[which] + table.log_span[which] * fraction)
        simple = table.simple[which, pick % table.simple_count[which]]
        bound = np.where(pick % 2 == 0, low, high)
        values = np.select([mode == 0, mode == 3], [simple, np.where(pick % 4 < 2, bound, log_uniform)], default=low + (high - low) * fraction)
        values = np.clip(values, low, high) * table.nonzero[which]  # exp and the uniform step may round a hair outside
        values = np.where(b[:, 1] >= 128, -values, values) + 0.0  # + 0.0: an exact zero is +0.0, as elements() draws it
        with np.errstate(over="ignore"):
            stored = values.astype(self.np_dtype)
        # Rounding to nearest is monotone and both bounds are exact, so a stored value stays
        # within its class; this only guards the invariant.
        assert np.isfinite(stored).all(), "ElementClasses.decode: a value left its class"
        return stored

    @functools.cached_property
    def _table(self) -> _Table:
        return _Table.of(self)


@dataclass(frozen=True)
class _Table:
    """Each class's numbers as arrays indexed by class, so one decode is a few array operations
    whatever the number of classes; the zero class has the range [1, 1] and ``nonzero`` 0."""

    thresholds: np.ndarray  # the first byte-0 value of each class after the first
    low: np.ndarray
    high: np.ndarray
    log_low: np.ndarray
    log_span: np.ndarray
    nonzero: np.ndarray
    simple: np.ndarray  # [class, i]: the i-th simple value of the class, padded
    simple_count: np.ndarray

    @classmethod
    def of(cls, classes: ElementClasses) -> _Table:
        ranges = [(1.0, 1.0) if part is None else part for part in classes.parts]
        low, high = (np.array(bound, dtype=np.float64) for bound in zip(*ranges))
        simples = [_simple_values(*r) for r in ranges]
        width = max(len(values) for values in simples)
        cumulative = np.cumsum(classes.weights[:-1]) / sum(classes.weights)
        return cls(
            thresholds=np.round(cumulative * 256).astype(np.int64),
            low=low,
            high=high,
            log_low=np.array([math.log(r[0]) for r in ranges]),
            log_span=np.array([math.log(r[1]) - math.log(r[0]) for r in ranges]),
            nonzero=np.array([part is not None for part in classes.parts], dtype=np.float64),
            simple=np.array([np.pad(values, (0, width - len(values)), mode="edge") for values in simples]),
            simple_count=np.array([len(values) for values in simples]),
        )


@functools.lru_cache(maxsize=256)
def _simple_values(low: float, high: float) -> np.ndarray:
    """Short numbers within ``[low, high]``, the simplest first: small integers and halves, then
    powers of two and ten nearest 1, then the bounds."""
    found: list[float] = []
    for value in (*_SIMPLE, *_POWERS, low, high):
        if low <= value <= high and value not in found:
            found.append(value)
        if len(found) == 32:
            break
    if high not in found:
        found.append(high)
    return np.array(found, dtype=np.float64)
