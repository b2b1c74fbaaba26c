"""Property 'unused_outputs': gradients are right when a loss uses only some of the outputs.

A backward receives one cotangent per output.  A loss that uses one output of several makes
autograd pass zeros for the others, or ``None`` under ``ctx.set_materialize_grads(False)``; a
backward that assumes every cotangent is a tensor crashes, and one that mixes up which cotangent
goes with which output gives a wrong gradient that the all-outputs check can miss.  With two or
more differentiable outputs, the VJP of each output alone must match the reference's (judged
as ``vjp_native`` judges).  For any Function, when every output's gradient is undefined
(gradcheck's ``check_undefined_grad``), backward must not raise and must give None or zeros.
"""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.harness import as_outputs, with_grad
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.properties.vjp_native import compare_vjp_with_reference
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def check_unused_outputs(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> Verdict:
    which = spec.differentiable(args)
    if not which:
        return Verdict()
    differentiable = _check_all_undefined(spec, args, which)
    if len(differentiable) < 2:
        return Verdict()
    margins, notes = [], []
    for k in differentiable:
        verdict = compare_vjp_with_reference(spec, args, cotangents, used=(k,), loss=f", for a loss of output {k} alone")
        margins += verdict.margins
        notes += verdict.notes
    return Verdict(tuple(margins), tuple(notes))


def _check_all_undefined(spec: FunctionSpec, args: tuple[Any, ...], which: tuple[int, ...]) -> list[int]:
    """Every output's gradient undefined: backward gets None or zeros and must give None or zeros.
    Returns the positions of the outputs that carry a gradient."""
    leaves = with_grad(args, which)
    all_outputs = as_outputs(spec.function(*leaves), what=spec.name)
    differentiable = [k for k, o in enumerate(all_outputs) if o.requires_grad]
    outputs = [all_outputs[k] for k in differentiable]
    if not outputs:
        return differentiable
    inputs = [leaves[i] for i in which]
    # Zero cotangents first: a backward that raises on them fails for its own reason, not this one.
    torch.autograd.grad(outputs, inputs, [torch.zeros_like(o) for o in outputs], allow_unused=True, retain_graph=True)
    undefined = [torch._C._functions.UndefinedGrad()(o) for o in outputs]
    try:
        grads = torch.autograd.grad(undefined, inputs, [torch.zeros_like(o) for o in undefined], allow_unused=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise AssertionError(
            f"{spec.name}: backward raised when every output's gradient is undefined (None under "
            f"set_materialize_grads(False)): {type(exc).__name__}: {exc}"
        ) from exc
    for i, g in zip(which, grads):
        if g is not None and not bool(g.eq(0).all()):
            raise AssertionError(
                f"{spec.name}: gradient of argument {i} is nonzero when every output's gradient is undefined "
                "(it must be None or zeros)"
            )
    return differentiable


PROPERTY = Property(
    name="unused_outputs",
    summary="gradients are right when a loss uses each output alone (the others' cotangents None or zero), "
    "and None or zero when no output's gradient is defined",
    check=check_unused_outputs,
    draw=draw_args_and_cotangents,
)
