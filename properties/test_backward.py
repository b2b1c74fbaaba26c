"""Properties 'vjp_native' and 'vjp_finite_differences': the backward is the right derivative."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import given
from hypothesis import strategies as st

from funcs.spec import FunctionSpec
from properties.case import autograd_property, cotangent_property, draw_args, draw_cotangents, draw_directions
from properties.harness import differentiable_indices, float64_args, vjp
from properties.oracles import FiniteDifferenceResult, assert_matches_truth, finite_difference_slope, jacobian_magnitudes


def check_vjp_native(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> list[float]:
    """Gradients of the Function equal the reference's under native autograd (judged in float64)."""
    which = differentiable_indices(args)
    _, got = vjp(spec.function, args, which, cotangents, what=spec.name)
    _, native = vjp(spec.reference, args, which, cotangents, what="reference")
    _, truth = vjp(spec.reference, float64_args(args), which, float64_args(cotangents), what="reference")
    magnitudes = jacobian_magnitudes(spec.reference, args, which, cotangents).vjp
    return [
        assert_matches_truth(
            g, n, t, m, tolerance=spec.tolerance(args[i].dtype), what=f"{spec.name} gradient of argument {i}"
        ).margin
        for i, g, n, t, m in zip(which, got, native, truth, magnitudes)
    ]


def check_vjp_finite_differences(
    spec: FunctionSpec,
    *,
    args: tuple[Any, ...],
    cotangents: tuple[torch.Tensor, ...],
    directions: tuple[torch.Tensor, ...],
) -> FiniteDifferenceResult:
    """(J^T u) . v from the Function's backward equals u . (J v) from its own forward, in float64."""
    args = float64_args(args)
    cotangents = float64_args(cotangents)
    which = differentiable_indices(args)
    _, grads = vjp(spec.function, args, which, cotangents, what=spec.name)
    analytic = sum(float((g * v).sum()) for g, v in zip(grads, directions))
    magnitudes = jacobian_magnitudes(spec.reference, args, which, cotangents).vjp
    result = finite_difference_slope(spec.function, args, which, cotangents, directions, analytic, sensitivities=magnitudes)
    result.check(f"{spec.name}: (J^T u).v from backward")
    return result


test_vjp_matches_native = cotangent_property("vjp_native", check_vjp_native)


@autograd_property("vjp_finite_differences", dtypes="float64")
@given(data=st.data())
def test_vjp_matches_finite_differences(case, data):
    args = draw_args(case, data)
    cotangents = draw_cotangents(case, data, args)
    directions = draw_directions(data, args)
    with case.reproduce(
        "properties.test_backward:check_vjp_finite_differences",
        args=args,
        cotangents=cotangents,
        directions=directions,
    ):
        result = check_vjp_finite_differences(case.spec, args=args, cotangents=cotangents, directions=directions)
    if not result.smooth:
        # Not a pass on this oracle's word: the point is left to the native oracle.
        case.note(f"non-smooth sample left to the native oracle ({result.reason.split(':')[0]})")
    case.record(result.margin)
