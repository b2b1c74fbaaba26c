"""Property 'deterministic_backward': backward run again on one graph gives identical gradients.

Each pass's gradients are copied as soon as they are returned, and the first pass's returned
tensors are compared with their copy at the end: a backward that hands back a tensor kept on ctx
(and changes it in place on the next pass) must not be compared with itself.  Several passes, not
two: a reduction in a random order differs from another order only on some values, so each extra
pass is another chance to see it.
"""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.harness import (
    as_outputs,
    grads_of,
    identical,
    with_grad,
)
from autograd_props.nondeterminism import lazy_vjp_magnitudes, same_up_to_order
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.spec import FunctionSpec

PASSES = 4


def _copies(grads) -> list[torch.Tensor | None]:
    return [None if g is None else g.detach().clone() for g in grads]


def check_deterministic_backward(
    spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]
) -> list[float]:
    which = spec.differentiable(args)
    leaves = with_grad(args, which)
    outs = as_outputs(spec.function(*leaves), what=spec.name)
    if not which or not any(o.requires_grad for o in outs):
        return []
    inputs = [leaves[i] for i in which]
    first = grads_of(outs, inputs, cotangents, retain_graph=True)
    expected = _copies(first)
    magnitude = lazy_vjp_magnitudes(spec, args, which, cotangents)

    for n in range(2, PASSES + 1):
        again = _copies(grads_of(outs, inputs, cotangents, retain_graph=n < PASSES))
        for k, (i, a, b) in enumerate(zip(which, expected, again)):
            if (a is None) != (b is None) or (
                a is not None and not same_up_to_order(a, b, spec.nondet_ulps, lambda k=k: magnitude(k))
            ):
                diff = "" if a is None or b is None else f" (max difference {(a.double() - b.double()).abs().nan_to_num(0.0).max().item():.3g})"
                allowed = f", beyond nondet_ulps={spec.nondet_ulps:g}" if spec.nondet_ulps else ""
                raise AssertionError(f"{spec.name}: backward pass {n} over one graph gave a different gradient for argument {i} than pass 1{diff}{allowed}")
    for i, returned, copy in zip(which, first, expected):
        if returned is not None and not identical(returned.detach(), copy):
            raise AssertionError(
                f"{spec.name}: the gradient for argument {i} that backward returned changed after later backward passes "
                "(backward returns a tensor it keeps and modifies in place)"
            )
    return []


PROPERTY = Property(
    name="deterministic_backward",
    summary="backward run again on one graph gives identical gradients, and what it returned does not change afterwards",
    check=check_deterministic_backward,
    draw=draw_args_and_cotangents,
)
