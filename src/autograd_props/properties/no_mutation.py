"""Property 'no_mutation': forward leaves its inputs unchanged and backward leaves grad_output unchanged.

A custom op may modify exactly the arguments its ``mutates_args`` declares (torch relies on the
declaration to order and functionalize the op); any other is a failure that names the declaration.
"""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.custom_op import mutated_positions
from autograd_props.harness import (
    as_outputs,
    grads_of,
    identical,
    recording_backward,
    with_grad,
)
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.spec import FunctionSpec


def check_no_mutation(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> list[float]:
    which = spec.differentiable(args)
    leaves = with_grad(args, which)
    before = [(a._version, a.detach().clone()) if isinstance(a, torch.Tensor) else None for a in leaves]
    declared = mutated_positions(spec.custom_op) if spec.custom_op is not None else ()
    with recording_backward(spec) as calls:
        outs = as_outputs(spec.function(*leaves), what=spec.name)
        for i, (a, snapshot) in enumerate(zip(leaves, before)):
            if i in declared or snapshot is None:
                continue
            if a._version != snapshot[0] or not identical(a.detach(), snapshot[1]):
                undeclared = f", which {spec.function_label} does not declare in mutates_args" if spec.custom_op is not None else ""
                raise AssertionError(f"{spec.name}: forward modified its input {i} in place{undeclared}")
        grads_of(outs, [leaves[i] for i in which], cotangents)
    for call in calls:
        for k, (g, snapshot) in enumerate(zip(call.grad_outputs, call.grad_outputs_before)):
            if snapshot is not None and (g._version != snapshot[0] or not identical(g.detach(), snapshot[1])):
                raise AssertionError(f"{spec.name}: backward modified grad_output {k} in place")
    return []


PROPERTY = Property(
    name="no_mutation",
    summary="forward leaves its inputs unchanged; backward leaves grad_output unchanged",
    check=check_no_mutation,
    draw=draw_args_and_cotangents,
)
