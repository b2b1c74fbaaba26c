"""Property 'needs_input_grad': every subset of inputs requiring grad gives the same gradients."""

from __future__ import annotations

import itertools
from typing import Any

import torch

from autograd_props.harness import (
    as_outputs,
    vjp,
    with_grad,
)
from autograd_props.nondeterminism import lazy_vjp_magnitudes, same_up_to_order
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.spec import FunctionSpec


def check_needs_input_grad(
    spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]
) -> list[float]:
    which = spec.differentiable(args)
    _, full = vjp(spec.function, args, which, cotangents, what=spec.name)
    rtol, atol = 0.0, 0.0  # the same Function on the same values: only needs_input_grad differs
    magnitude = lazy_vjp_magnitudes(spec, args, which, cotangents)

    for size in range(len(which)):
        for subset in itertools.combinations(which, size):
            outs, grads = vjp(spec.function, args, subset, cotangents, what=spec.name)
            if not subset and any(o.requires_grad for o in as_outputs(spec.function(*with_grad(args, ())))):
                raise AssertionError(f"{spec.name}: an output requires grad although no input does")
            for i, g in zip(subset, grads):
                k = which.index(i)
                expected = full[k]
                if not same_up_to_order(g, expected, spec.nondet_ulps, lambda k=k: magnitude(k)):
                    torch.testing.assert_close(
                        g, expected, rtol=rtol, atol=atol,
                        msg=lambda m, i=i, subset=subset: f"{spec.name}: gradient of argument {i} with only "
                        f"arguments {list(subset)} requiring grad differs from the all-inputs gradient.\n{m}",
                    )
    return []


PROPERTY = Property(
    name="needs_input_grad",
    summary="every subset of inputs requiring grad gives the same gradients",
    check=check_needs_input_grad,
    draw=draw_args_and_cotangents,
)
