"""How far a float64 computation's result moves under its own rounding, measured rather than
guessed from the result's size.

The size of a result says nothing about its rounding when large terms cancel: binary cross
entropy with logits at x = -100 computes (1 - y) x + max(-x, 0) + log1p(exp(-|x|)), about
-100 + 100 + 1e-10, so the result 1e-10 is known only to ulp(100) = 1.4e-14.  Monte Carlo
arithmetic (Parker, 1997) measures that: the computation runs again with every intermediate
result of a floating op perturbed by a random relative amount of one machine epsilon (twice
float64's unit roundoff), and the spread of the results is its sensitivity to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

__all__ = ["rounding_noise"]

RUNS = 4


class _PerturbedRounding(TorchDispatchMode):
    """Every float64 result of a functional op, times (1 + eps * r), r uniform in [-1, 1).

    Ops that write in place or return a view of an input are left alone: perturbing them would
    change aliasing, not rounding.
    """

    def __init__(self, generator: torch.Generator):
        super().__init__()
        self.generator = generator

    def _perturb(self, value):
        if not isinstance(value, torch.Tensor) or value.dtype != torch.float64 or value.numel() == 0:
            return value
        r = torch.rand(value.shape, generator=self.generator, dtype=torch.float64) * 2 - 1
        return value * (1 + torch.finfo(torch.float64).eps * r.to(value.device))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        schema = func._schema
        if schema.is_mutable or any(r.alias_info is not None for r in schema.returns):
            return out
        return tree_map(self._perturb, out)


def rounding_noise(compute: Callable[[], float], exact: float, runs: int = RUNS, seed: int = 0) -> float:
    """The largest distance from ``exact`` (``compute()`` as rounded normally) over ``runs``
    perturbed evaluations; 0.0 where a perturbed run raises or is not finite (the caller's own
    rule then stands alone)."""
    generator = torch.Generator().manual_seed(seed)
    spread = 0.0
    for _ in range(runs):
        try:
            with _PerturbedRounding(generator):
                value = compute()
        except Exception:  # noqa: BLE001 -- a Function that cannot run under the mode: no measurement
            return 0.0
        if not math.isfinite(value):
            return 0.0
        spread = max(spread, abs(value - exact))
    return spread
