"""Property 'special_values': extreme inputs behave as in the reference.

Inputs are redrawn across the dtype's whole range, with NaN, +-inf, the largest finite values,
and values on purpose near the overflow thresholds of exp-like (log(max)) and square-like
(sqrt(max)) Functions.  Where the reference's output is finite, the Function's output and its
gradients must be finite; where the reference has +-inf the Function must have the same, and
where it has NaN the Function must not be finite.  The one exception is the reference's own
overflow: where the float64 truth, rounded to the dtype, is finite, a finite value is right too
(native bfloat16 linear accumulates in float32 and overflows to -inf where the sum is -3.39e38).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from hypothesis import strategies as st

from autograd_props.cell import Cell
from autograd_props.harness import (
    as_outputs,
    float64_cpu_args,
    vjp,
)
from autograd_props.properties.base import Property, draw_args, draw_cotangents
from autograd_props.spec import FunctionSpec
from autograd_props.strategies import elements, tensors

NON_FINITE = (float("nan"), float("inf"), -float("inf"))


def extreme_elements(dtype: torch.dtype) -> st.SearchStrategy[float]:
    info = torch.finfo(dtype)
    thresholds = [info.max, math.log(info.max), math.sqrt(info.max)]
    near = [float(torch.tensor(t * f, dtype=dtype)) for t in thresholds for f in (0.5, 0.9, 0.99, 1.01, 1.1)]
    near = [v for v in near if math.isfinite(v)]
    special = st.sampled_from(NON_FINITE + tuple(near) + tuple(-v for v in near))
    return st.one_of(special, elements(dtype, max_abs=info.max * 0.999))


def _pattern_mismatch(got: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Elements where got breaks ref's finite / NaN / +-inf pattern."""
    ref_finite = torch.isfinite(ref)
    bad = ref_finite & ~torch.isfinite(got)
    # A NaN in the reference may be its own overflow (inf - inf in a variance, say) that a careful
    # implementation resolves to +-inf; a finite value there would hide a NaN input, so it fails.
    bad |= torch.isnan(ref) & torch.isfinite(got)
    bad |= torch.isinf(ref) & (got != ref)
    return bad


def _rounded_truth(spec: FunctionSpec, args: tuple[Any, ...], like: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The reference's outputs computed in float64 on the CPU, then rounded to each output's dtype."""
    with torch.no_grad():
        truth = as_outputs(spec.reference(*float64_cpu_args(args)), what="reference")
    return tuple(t.to(r.dtype) for t, r in zip(truth, like))


def _reference_overflow(got: torch.Tensor, ref: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Elements where ref is not finite only through its own overflow, and got is finite as the truth is."""
    got, ref = got.detach().cpu(), ref.detach().cpu()
    return ~torch.isfinite(ref) & torch.isfinite(truth) & torch.isfinite(got)


def _describe(what: str, got: torch.Tensor, ref: torch.Tensor, bad: torch.Tensor, truth: torch.Tensor | None = None) -> str:
    index = tuple(int(i) for i in bad.nonzero()[0]) if bad.dim() else ()
    rounded = f", float64 truth rounded to {ref.dtype} {truth[index].item()!r}" if truth is not None else ""
    return (
        f"{what}: {int(bad.sum())} of {bad.numel()} elements break the reference's finite/NaN/inf pattern; "
        f"first at index {index}: reference {ref[index].item()!r}{rounded}, got {got[index].item()!r}"
    )


def check_special_values(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> list[float]:
    which = spec.differentiable(args)
    outs, grads = vjp(spec.function, args, which, cotangents, what=spec.name)
    ref_outs, ref_grads = vjp(spec.reference, args, which, cotangents, what="reference")
    truth = None  # computed only when needed: most examples match the reference's pattern outright
    for k, (g, r) in enumerate(zip(outs, ref_outs)):
        bad = _pattern_mismatch(g, r)
        if bad.any():
            if truth is None:
                truth = _rounded_truth(spec, args, ref_outs)
            bad = bad.cpu() & ~_reference_overflow(g, r, truth[k])
        if bad.any():
            raise AssertionError(_describe(f"{spec.name} output {k}", g.cpu(), r.cpu(), bad, truth[k]))
    for i, g, r in zip(which, grads, ref_grads):
        bad = torch.isfinite(r) & ~torch.isfinite(g)
        if bad.any():
            raise AssertionError(_describe(f"{spec.name} gradient of argument {i} (reference finite)", g, r, bad))
    return []


@st.composite
def extreme_args(draw, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The same arguments with every floating tensor redrawn from the extreme regime."""
    return tuple(
        draw(tensors(dtype=a.dtype, device=a.device, shape=tuple(a.shape), elements_strategy=extreme_elements(a.dtype)))
        if isinstance(a, torch.Tensor) and a.is_floating_point()
        else a
        for a in args
    )


def _draw(cell: Cell, data: st.DataObject) -> dict[str, Any]:
    args = data.draw(extreme_args(draw_args(cell, data)), label="extreme args")
    return {"args": args, "cotangents": draw_cotangents(cell, data, args)}


PROPERTY = Property(
    name="special_values",
    summary="inputs across the whole range (NaN, +-inf, near the overflow of exp and square): where the reference "
    "output is finite the Function's output and gradients are finite, and NaN and inf appear where the reference has them",
    check=check_special_values,
    draw=_draw,
)
