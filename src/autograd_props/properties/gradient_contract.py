"""Property 'gradient_contract': backward returns one gradient per forward input, each None or
shaped, typed and placed like its input (checked on what backward returned, before autograd
quietly sums or casts it)."""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.harness import recording_backward, vjp
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def check_gradient_contract(
    spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]
) -> Verdict | list[float]:
    which = spec.differentiable(args)
    if not which:
        return []
    with recording_backward(spec.function_class) as calls:
        vjp(spec.function, args, which, cotangents, what=spec.name)
    if not calls:
        raise AssertionError(f"{spec.name}: backward of {spec.function_class.__name__} was never called")
    notes = []
    for call in calls:
        if len(call.returned) != len(call.inputs):
            raise AssertionError(
                f"{spec.name}: backward returned {len(call.returned)} values for {len(call.inputs)} forward inputs"
            )
        for position, (grad, meta) in enumerate(zip(call.returned, call.inputs)):
            if grad is None:
                continue
            if position in spec.non_differentiable:  # never requires grad: autograd drops it unchecked
                notes.append(f"backward returned a gradient for argument {position}, declared non-differentiable: ignored")
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
    return Verdict(notes=tuple(dict.fromkeys(notes)))


PROPERTY = Property(
    name="gradient_contract",
    summary="backward returns one gradient per input, each None or with its input's shape, dtype and device "
    "(checked before autograd silently reduces it)",
    check=check_gradient_contract,
    draw=draw_args_and_cotangents,
)
