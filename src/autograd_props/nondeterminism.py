"""How far two runs of one backward may differ: not at all, unless the spec allows a
nondeterministic summation order (``FunctionSpec.nondet_ulps``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from autograd_props.harness import identical
from autograd_props.oracles import jacobian_magnitudes

__all__ = ["lazy_vjp_magnitudes", "same_up_to_order"]


def same_up_to_order(a: torch.Tensor, b: torch.Tensor, ulps: float, magnitude: Callable[[], torch.Tensor]) -> bool:
    """Whether ``a`` and ``b`` are identical, or with ``ulps`` > 0 differ by at most ``ulps`` ulps
    of their dtype times ``magnitude()`` (the size of the terms each element sums: summing them in
    another order moves the result by a few ulps of that size, not of the result's).  NaN must
    match NaN and infinities must match exactly either way."""
    if identical(a, b):
        return True
    if not ulps or a.shape != b.shape or not a.is_floating_point():
        return False
    a64, b64 = a.detach().cpu().double(), b.detach().cpu().double()
    if not torch.equal(torch.isnan(a64), torch.isnan(b64)):
        return False
    finite = torch.isfinite(a64) & torch.isfinite(b64)
    if not torch.equal(a64[~finite].nan_to_num(0.0), b64[~finite].nan_to_num(0.0)):
        return False
    allowed = ulps * torch.finfo(a.dtype).eps * magnitude().cpu().double()
    return bool(((a64 - b64).abs()[finite] <= allowed[finite]).all())


def lazy_vjp_magnitudes(spec, args, which, cotangents) -> Callable[[int], torch.Tensor]:
    """``k -> |J|^T |u|`` for the k-th differentiated argument, from the reference's Jacobian,
    computed on first use: only a spec that allows a nondeterministic order, and only when two
    runs differ, needs it."""
    sizes: list = []

    def magnitude(k: int) -> torch.Tensor:
        if not sizes:
            sizes.append(jacobian_magnitudes(spec.reference, args, which, cotangents).vjp)
        return sizes[0][k]

    return magnitude
