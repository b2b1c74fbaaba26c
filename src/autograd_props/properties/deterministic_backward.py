"""Property 'deterministic_backward': backward twice on one graph gives identical gradients."""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.harness import as_outputs, differentiable_indices, grads_of, identical, with_grad
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.spec import FunctionSpec


def check_deterministic_backward(
    spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]
) -> list[float]:
    which = differentiable_indices(args)
    leaves = with_grad(args, which)
    outs = as_outputs(spec.function(*leaves), what=spec.name)
    if not which or not any(o.requires_grad for o in outs):
        return []
    inputs = [leaves[i] for i in which]
    first = grads_of(outs, inputs, cotangents, retain_graph=True)
    second = grads_of(outs, inputs, cotangents)
    for i, a, b in zip(which, first, second):
        if (a is None) != (b is None) or (a is not None and not identical(a, b)):
            raise AssertionError(f"{spec.name}: two backward passes over one graph gave different gradients for argument {i}")
    return []


PROPERTY = Property(
    name="deterministic_backward",
    summary="backward twice on one graph gives identical gradients",
    check=check_deterministic_backward,
    draw=draw_args_and_cotangents,
)
