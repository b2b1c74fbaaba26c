"""Property 'vjp_finite_differences': the float64 dot-product test, ``u.(J v)`` by central
differences of the Function's own forward against ``(J^T u).v`` from its backward."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import strategies as st

from autograd_props.cell import Cell
from autograd_props.harness import differentiable_indices, float64_args, vjp
from autograd_props.oracles import FiniteDifferenceResult, finite_difference_slope, jacobian_magnitudes
from autograd_props.properties.base import Property, draw_args, draw_cotangents, draw_directions
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def finite_difference_result(
    spec: FunctionSpec,
    args: tuple[Any, ...],
    cotangents: tuple[torch.Tensor, ...],
    directions: tuple[torch.Tensor, ...],
    *,
    sensitivities: tuple[torch.Tensor, ...] | None = None,
) -> FiniteDifferenceResult:
    """The dot-product test in float64: (J^T u) . v from backward against u . (J v) by finite
    differences.  ``sensitivities`` (|J|^T |u|, which the tolerance is built from) are taken
    from the reference unless given."""
    args = float64_args(args)
    cotangents = float64_args(cotangents)
    which = differentiable_indices(args)
    _, grads = vjp(spec.function, args, which, cotangents, what=spec.name)
    analytic = sum(float((g * v).sum()) for g, v in zip(grads, directions))
    if sensitivities is None:
        sensitivities = jacobian_magnitudes(spec.reference, args, which, cotangents).vjp
    return finite_difference_slope(spec.function, args, which, cotangents, directions, analytic, sensitivities=sensitivities)


def check_vjp_finite_differences(
    spec: FunctionSpec,
    *,
    args: tuple[Any, ...],
    cotangents: tuple[torch.Tensor, ...],
    directions: tuple[torch.Tensor, ...],
) -> Verdict:
    """(J^T u) . v from the Function's backward equals u . (J v) from its own forward, in float64."""
    result = finite_difference_result(spec, args, cotangents, directions)
    margin = result.check(f"{spec.name}: (J^T u).v from backward")
    if not result.smooth:
        # Not a pass on this oracle's word: the point is left to the native oracle.
        return Verdict(notes=(f"non-smooth sample left to the native oracle ({result.reason.split(':')[0]})",))
    return Verdict(margins=(margin,))


def _draw(cell: Cell, data: st.DataObject) -> dict[str, Any]:
    args = draw_args(cell, data)
    return {"args": args, "cotangents": draw_cotangents(cell, data, args), "directions": draw_directions(data, args)}


PROPERTY = Property(
    name="vjp_finite_differences",
    summary="float64 dot-product test: u.(J v) by central differences against (J^T u).v from backward",
    check=check_vjp_finite_differences,
    draw=_draw,
    dtypes="float64",
    finite_differences=True,
)
