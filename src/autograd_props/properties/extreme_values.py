"""Property 'extreme_values': values beyond the square root of the dtype's maximum, up to its
largest finite value, mixed with ordinary ones and NaN/inf, give the reference's finite / NaN /
inf pattern (see :mod:`autograd_props.patterns`).  Apart from ``special_values`` so that a
Function whose intermediate (a variance, a norm) overflows only there can opt out of this tier
alone, with its reason, and keep the NaN and inf checks."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import strategies as st

from autograd_props.cell import Cell
from autograd_props.patterns import check_pattern, tier_args
from autograd_props.properties.base import Property, draw_args, draw_cotangents
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def check_extreme_values(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> Verdict:
    return check_pattern(spec, args=args, cotangents=cotangents)


def _draw(cell: Cell, data: st.DataObject) -> dict[str, Any]:
    args = data.draw(tier_args(cell.spec, draw_args(cell, data), "extreme"), label="extreme args")
    return {"args": args, "cotangents": draw_cotangents(cell, data, args)}


PROPERTY = Property(
    name="extreme_values",
    summary="values beyond the square root of the dtype's maximum, up to its largest: the reference's "
    "finite/NaN/inf pattern, as special_values (a tier a spec may opt out of alone)",
    check=check_extreme_values,
    draw=_draw,
    without_reference="which values must be finite is judged by the Function's own float64 result, so in float64 "
    "there is nothing to compare (the other dtypes are judged by it)",
)
