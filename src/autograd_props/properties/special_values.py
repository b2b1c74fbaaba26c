"""Property 'special_values': NaN, +-inf and values up to the square root of the dtype's maximum
(near the overflow of exp-like and square-like Functions) give the reference's finite / NaN /
inf pattern, in outputs and gradients (see :mod:`autograd_props.patterns`)."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import strategies as st

from autograd_props.cell import Cell
from autograd_props.patterns import check_pattern, tier_args
from autograd_props.properties.base import Property, draw_args, draw_cotangents
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def check_special_values(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> Verdict:
    return check_pattern(spec, args=args, cotangents=cotangents)


def _draw(cell: Cell, data: st.DataObject) -> dict[str, Any]:
    args = data.draw(tier_args(cell.spec, draw_args(cell, data), "special"), label="special args")
    return {"args": args, "cotangents": draw_cotangents(cell, data, args)}


PROPERTY = Property(
    name="special_values",
    summary="NaN, +-inf and values up to the square root of the dtype's maximum: where the reference output is "
    "finite the Function's output and gradients are finite, and NaN and inf appear where the reference has them",
    check=check_special_values,
    draw=_draw,
    without_reference="which values must be finite is judged by the Function's own float64 result, so in float64 "
    "there is nothing to compare (the other dtypes are judged by it)",
)
