"""The dot-product test of a Function's backward against its own forward, in float64:
``(J^T u) . v`` from backward against ``u . (J v)`` by finite differences along ``v``.

It needs no reference for the values; the reference (or, where the reference cannot judge, the
Function itself) only sizes the tolerance: ``|J|^T |u|`` bounds the rounding of the sums.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from autograd_props.harness import float64_args, vjp
from autograd_props.oracles import (
    FiniteDifferenceResult,
    finite_difference_slope,
    jacobian_magnitudes,
)
from autograd_props.spec import FunctionSpec

__all__ = ["reference_dot_product", "vjp_dot_product"]


def vjp_dot_product(
    spec: FunctionSpec,
    args: tuple[Any, ...],
    cotangents: tuple[torch.Tensor, ...],
    directions: tuple[torch.Tensor, ...],
    *,
    sensitivities: tuple[torch.Tensor, ...] | None = None,
    sized_by: Callable[..., Any] | None = None,
) -> FiniteDifferenceResult:
    """The test for ``spec.function`` at ``args``; ``directions`` align with its differentiable
    arguments.  ``sensitivities`` are computed from ``sized_by`` (default: the reference) unless given."""
    return _dot_product(spec.function, spec, args, cotangents, directions, sensitivities=sensitivities, sized_by=sized_by)


def reference_dot_product(
    spec: FunctionSpec, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...], directions: tuple[torch.Tensor, ...]
) -> FiniteDifferenceResult:
    """The same test on the spec's reference: how far finite differences are off at this point
    for a function whose backward is right."""
    return _dot_product(spec.reference, spec, args, cotangents, directions)


def _dot_product(fn, spec, args, cotangents, directions, *, sensitivities=None, sized_by=None) -> FiniteDifferenceResult:
    args = float64_args(args)
    cotangents = float64_args(cotangents)
    which = spec.differentiable(args)
    _, grads = vjp(fn, args, which, cotangents, what=spec.name)
    analytic = sum(float((g * v.to(g.device)).sum()) for g, v in zip(grads, directions))
    if sensitivities is None:
        sensitivities = jacobian_magnitudes(sized_by or spec.reference, args, which, cotangents).vjp
    return finite_difference_slope(fn, args, which, cotangents, directions, analytic, sensitivities=sensitivities)
