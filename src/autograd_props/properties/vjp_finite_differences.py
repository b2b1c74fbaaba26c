"""Property 'vjp_finite_differences': the float64 dot-product test, ``u.(J v)`` by central
differences of the Function's own forward against ``(J^T u).v`` from its backward."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import strategies as st

from autograd_props.cell import Cell
from autograd_props.dot_product import vjp_dot_product
from autograd_props.properties.base import (
    Property,
    draw_args,
    draw_cotangents,
    draw_directions,
)
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def check_vjp_finite_differences(
    spec: FunctionSpec,
    *,
    args: tuple[Any, ...],
    cotangents: tuple[torch.Tensor, ...],
    directions: tuple[torch.Tensor, ...],
) -> Verdict:
    """(J^T u) . v from the Function's backward equals u . (J v) from its own forward, in float64."""
    result = vjp_dot_product(spec, args, cotangents, directions)
    margin = result.check(f"{spec.name}: (J^T u).v from backward")
    if not result.smooth:
        # Not a pass on this oracle's word: the point is left to the native oracle.
        return Verdict(notes=(f"non-smooth sample left to the native oracle ({result.reason.split(':')[0]})",))
    return Verdict(margins=(margin,))


def _draw(cell: Cell, data: st.DataObject) -> dict[str, Any]:
    args = draw_args(cell, data)
    return {"args": args, "cotangents": draw_cotangents(cell, data, args), "directions": draw_directions(cell.spec, data, args)}


PROPERTY = Property(
    name="vjp_finite_differences",
    summary="float64 dot-product test: u.(J v) by central differences against (J^T u).v from backward",
    check=check_vjp_finite_differences,
    draw=_draw,
    dtypes="float64",
    finite_differences=True,
)
