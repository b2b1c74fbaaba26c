"""Property 'vjp_native': gradients for random cotangents match the reference under native autograd."""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.harness import differentiable_indices, float64_args, vjp
from autograd_props.oracles import assert_matches_truth, jacobian_magnitudes
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.spec import FunctionSpec


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


PROPERTY = Property(
    name="vjp_native",
    summary="gradients for random cotangents match the reference under native autograd",
    check=check_vjp_native,
    draw=draw_args_and_cotangents,
)
