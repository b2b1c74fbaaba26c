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
from autograd_props.messages import described
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.properties.vjp_native import compare_vjp_with_reference
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def check_unused_outputs(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> Verdict:
    which = spec.differentiable(args)
    if not which:
        return Verdict()
    differentiable, undefined_notes = _check_all_undefined(spec, args, which)
    if len(differentiable) < 2:
        return Verdict(notes=tuple(undefined_notes))
    margins, notes = [], list(undefined_notes)
    for k in differentiable:
        verdict = compare_vjp_with_reference(spec, args, cotangents, used=(k,), loss=f", for a loss of output {k} alone")
        margins += verdict.margins
        notes += verdict.notes
    return Verdict(tuple(margins), tuple(notes))


def _native_for_zero_cotangents(spec: FunctionSpec, args: tuple[Any, ...], which: tuple[int, ...]) -> tuple[Any, ...]:
    """The reference's gradients for zero cotangents (None where it has none)."""
    leaves = with_grad(args, which)
    outputs = [o for o in as_outputs(spec.reference(*leaves), what=f"{spec.name} reference") if o.requires_grad]
    if not outputs:
        return (None,) * len(which)
    return torch.autograd.grad(outputs, [leaves[i] for i in which], [torch.zeros_like(o) for o in outputs], allow_unused=True)


def _check_all_undefined(spec: FunctionSpec, args: tuple[Any, ...], which: tuple[int, ...]) -> tuple[list[int], list[str]]:
    """Every output's gradient undefined: backward gets None or zeros and must give None or zeros,
    but for NaN where native gives NaN for zero cotangents as well (0 times an overflowed
    derivative: exp's backward at x = 32 in float16).  Returns the positions of the outputs that
    carry a gradient, and notes."""
    leaves = with_grad(args, which)
    all_outputs = as_outputs(spec.function(*leaves), what=spec.name)
    differentiable = [k for k, o in enumerate(all_outputs) if o.requires_grad]
    outputs = [all_outputs[k] for k in differentiable]
    if not outputs:
        return differentiable, []
    inputs = [leaves[i] for i in which]
    # Zero cotangents first: a backward that raises on them fails for its own reason, not this one.
    torch.autograd.grad(outputs, inputs, [torch.zeros_like(o) for o in outputs], allow_unused=True, retain_graph=True)
    undefined = [torch._C._functions.UndefinedGrad()(o) for o in outputs]
    try:
        grads = torch.autograd.grad(undefined, inputs, [torch.zeros_like(o) for o in undefined], allow_unused=True)
    except Exception as exc:  # whatever backward raised here (a bare assert too) is the finding
        raise AssertionError(
            f"{spec.name}: backward raised when every output's gradient is undefined (None under "
            f"set_materialize_grads(False)): {described(exc)}"
        ) from exc
    notes = []
    native = None
    for k, (i, g) in enumerate(zip(which, grads)):
        if g is None or bool(g.eq(0).all()):
            continue
        wrong = g.ne(0)
        if spec.has_reference:
            native = native if native is not None else _native_for_zero_cotangents(spec, args, which)
            if native[k] is not None:
                as_native = torch.isnan(g).logical_and(torch.isnan(native[k]))
                if bool(as_native.any()):
                    notes.append(f"argument {i}: NaN for undefined output gradients where native gives NaN for zero ones "
                                 "(0 times an infinite derivative)")
                wrong.logical_and_(as_native.logical_not())
        if bool(wrong.any()):
            raise AssertionError(
                f"{spec.name}: gradient of argument {i} is nonzero when every output's gradient is undefined "
                "(it must be None or zeros)"
            )
    return differentiable, notes


PROPERTY = Property(
    name="unused_outputs",
    summary="gradients are right when a loss uses each output alone (the others' cotangents None or zero), "
    "and None or zero when no output's gradient is defined",
    check=check_unused_outputs,
    draw=draw_args_and_cotangents,
)
