"""Properties of backward's contract with autograd, beyond its values.

'gradient_contract': one gradient per forward input, each None or shaped, typed and placed like
its input (checked on what backward returned, before autograd quietly sums or casts it).
'no_mutation': forward leaves its inputs alone and backward leaves grad_output alone.
'needs_input_grad': every subset of inputs requiring grad gives the same gradients.
'deterministic_backward': backward twice on the same graph gives identical gradients.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from funcs.spec import FunctionSpec
from properties.case import cotangent_property
from properties.harness import as_outputs, differentiable_indices, recording_backward, vjp, with_grad


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.equal(a, b) or torch.isnan(a).eq(torch.isnan(b)).all() and torch.equal(a.nan_to_num(0.0), b.nan_to_num(0.0)))


def check_gradient_contract(
    spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]
) -> list[float]:
    which = differentiable_indices(args)
    if not which:
        return []
    with recording_backward(spec.function_class) as calls:
        vjp(spec.function, args, which, cotangents, what=spec.name)
    if not calls:
        raise AssertionError(f"{spec.name}: backward of {spec.function_class.__name__} was never called")
    for call in calls:
        if len(call.returned) != len(call.inputs):
            raise AssertionError(
                f"{spec.name}: backward returned {len(call.returned)} values for {len(call.inputs)} forward inputs"
            )
        for position, (grad, meta) in enumerate(zip(call.returned, call.inputs)):
            if grad is None:
                continue
            if not isinstance(meta, tuple) or not meta[1].is_floating_point:
                raise AssertionError(
                    f"{spec.name}: backward returned a gradient for forward input {position}, "
                    f"which is not a floating tensor ({meta if isinstance(meta, str) else meta[1]}); it must be None"
                )
            if not isinstance(grad, torch.Tensor):
                raise AssertionError(f"{spec.name}: gradient {position} is a {type(grad).__name__}, not a tensor")
            shape, dtype, device = meta
            if grad.shape != shape or grad.dtype != dtype or grad.device != device:
                raise AssertionError(
                    f"{spec.name}: gradient {position} is {tuple(grad.shape)} {grad.dtype} on {grad.device}; "
                    f"its input is {tuple(shape)} {dtype} on {device} (autograd would silently reduce or cast it)"
                )
    return []


def check_no_mutation(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> list[float]:
    which = differentiable_indices(args)
    leaves = with_grad(args, which)
    before = [(a._version, a.detach().clone()) if isinstance(a, torch.Tensor) else None for a in leaves]
    with recording_backward(spec.function_class) as calls:
        outs = as_outputs(spec.function(*leaves), what=spec.name)
        for i, (a, snapshot) in enumerate(zip(leaves, before)):
            if snapshot is not None and (a._version != snapshot[0] or not _identical(a.detach(), snapshot[1])):
                raise AssertionError(f"{spec.name}: forward modified its input {i} in place")
        pairs = [(o, c) for o, c in zip(outs, cotangents) if o.requires_grad]
        if pairs and which:
            torch.autograd.grad([o for o, _ in pairs], [leaves[i] for i in which], [c for _, c in pairs], allow_unused=True)
    for call in calls:
        for k, (g, snapshot) in enumerate(zip(call.grad_outputs, call.grad_outputs_before)):
            if snapshot is not None and (g._version != snapshot[0] or not _identical(g.detach(), snapshot[1])):
                raise AssertionError(f"{spec.name}: backward modified grad_output {k} in place")
    return []


def check_needs_input_grad(
    spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]
) -> list[float]:
    which = differentiable_indices(args)
    _, full = vjp(spec.function, args, which, cotangents, what=spec.name)
    rtol, atol = 0.0, 0.0  # the same Function on the same values: only needs_input_grad differs
    for size in range(len(which)):
        for subset in itertools.combinations(which, size):
            outs, grads = vjp(spec.function, args, subset, cotangents, what=spec.name)
            if not subset and any(o.requires_grad for o in as_outputs(spec.function(*with_grad(args, ())))):
                raise AssertionError(f"{spec.name}: an output requires grad although no input does")
            for i, g in zip(subset, grads):
                expected = full[which.index(i)]
                if not _identical(g, expected):
                    torch.testing.assert_close(
                        g, expected, rtol=rtol, atol=atol,
                        msg=lambda m, i=i, subset=subset: f"{spec.name}: gradient of argument {i} with only "
                        f"arguments {list(subset)} requiring grad differs from the all-inputs gradient.\n{m}",
                    )
    return []


def check_deterministic_backward(
    spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]
) -> list[float]:
    which = differentiable_indices(args)
    leaves = with_grad(args, which)
    outs = as_outputs(spec.function(*leaves), what=spec.name)
    pairs = [(o, c) for o, c in zip(outs, cotangents) if o.requires_grad]
    if not pairs or not which:
        return []
    inputs = [leaves[i] for i in which]
    first = torch.autograd.grad([o for o, _ in pairs], inputs, [c for _, c in pairs], retain_graph=True, allow_unused=True)
    second = torch.autograd.grad([o for o, _ in pairs], inputs, [c for _, c in pairs], allow_unused=True)
    for i, a, b in zip(which, first, second):
        if (a is None) != (b is None) or (a is not None and not _identical(a, b)):
            raise AssertionError(f"{spec.name}: two backward passes over one graph gave different gradients for argument {i}")
    return []


test_gradient_contract = cotangent_property("gradient_contract", check_gradient_contract)
test_no_mutation = cotangent_property("no_mutation", check_no_mutation)
test_needs_input_grad = cotangent_property("needs_input_grad", check_needs_input_grad)
test_deterministic_backward = cotangent_property("deterministic_backward", check_deterministic_backward)
