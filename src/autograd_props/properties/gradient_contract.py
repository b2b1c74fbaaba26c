"""Property 'gradient_contract': backward returns one gradient per forward input (trailing Nones
beyond them are dropped by autograd and only noted), each None or
shaped, typed and placed like its input (checked on what backward returned, before autograd
quietly casts it).  A gradient at a shape its input broadcasts to is noted, not failed: autograd
sums it to the input's shape by design, so its values are right.  Outputs carry a gradient exactly where the reference's do, and an
argument modified in place has the Function in its history afterwards."""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.harness import as_outputs, recording_backward, vjp, with_grad
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def check_gradient_contract(
    spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]
) -> Verdict | list[float]:
    which = spec.differentiable(args)
    if not which:
        return []
    notes: list[str] = []
    if not _check_output_differentiability(spec, args, which, cotangents, notes):
        # Indices or codes only, as the reference's: autograd never calls backward.
        notes.append("no output carries a gradient, as none of the reference's does: backward is never called")
        return Verdict(notes=tuple(notes))
    with recording_backward(spec) as calls:
        vjp(spec.function, args, which, cotangents, what=spec.name)
    if not calls:
        raise AssertionError(f"{spec.name}: backward of {spec.function_label} was never called")
    for call in calls:
        extra = call.returned[len(call.inputs):]
        if len(call.returned) < len(call.inputs) or any(g is not None for g in extra):
            raise AssertionError(
                f"{spec.name}: backward returned {len(call.returned)} values for {len(call.inputs)} forward inputs"
            )
        if extra:  # autograd drops trailing Nones beyond the inputs, by design (python_function.cpp)
            notes.append(f"backward returned {len(extra)} None beyond its {len(call.inputs)} inputs, which autograd drops")
        for position, (grad, meta) in enumerate(zip(call.returned, call.inputs)):
            if grad is None:
                continue
            if position in spec.non_differentiable:  # never requires grad: autograd drops it unchecked
                notes.append(f"backward returned a gradient for argument {position}, declared non-differentiable: ignored")
                continue
            if not isinstance(meta, tuple) or not (meta[1].is_floating_point or meta[1].is_complex):
                raise AssertionError(
                    f"{spec.name}: backward returned a gradient for forward input {position}, "
                    f"which is not a floating tensor ({meta if isinstance(meta, str) else meta[1]}); it must be None"
                )
            if not isinstance(grad, torch.Tensor):
                raise AssertionError(f"{spec.name}: gradient {position} is a {type(grad).__name__}, not a tensor")
            shape, dtype, device = meta
            if grad.shape != shape and _autograd_sums(grad.shape, shape) and grad.dtype == dtype and grad.device == device:
                # autograd's validate_outputs sums a gradient of a shape the input broadcasts to
                # (torch's own custom_op_db numpy_mul relies on it): values are right
                notes.append(
                    f"gradient {position} returned at the broadcast shape {tuple(grad.shape)}, "
                    f"which autograd sums to its input's {tuple(shape)}"
                )
                continue
            if grad.shape != shape or grad.dtype != dtype or grad.device != device:
                raise AssertionError(
                    f"{spec.name}: gradient {position} is {tuple(grad.shape)} {grad.dtype} on {grad.device}; "
                    f"its input is {tuple(shape)} {dtype} on {device} (autograd casts a dtype silently and refuses a shape it cannot sum to the input's)"
                )
    return Verdict(notes=tuple(dict.fromkeys(notes)))


def _autograd_sums(returned: torch.Size, expected: torch.Size) -> bool:
    """Whether autograd reduces a gradient of shape ``returned`` to ``expected`` by itself:
    ``expected`` broadcasts to ``returned`` (c10's is_expandable_to)."""
    try:
        return torch.broadcast_shapes(expected, returned) == returned
    except RuntimeError:  # the shapes do not broadcast together
        return False


def _check_output_differentiability(
    spec: FunctionSpec, args: tuple[Any, ...], which: tuple[int, ...], cotangents: tuple[torch.Tensor, ...], notes: list[str]
) -> bool:
    """Each output carries a gradient where the reference's does.  One that requires grad where
    the reference's cannot must pass none on (``ctx.mark_non_differentiable`` forgotten on a mask
    lets a gradient flow where none may); one that does not where the reference's does stops
    every gradient through it, which matters where that gradient is not zero.  A custom Function's
    floating outputs all require grad unless marked, so an auxiliary output (a scale computed from
    constants) that passes only zeros on is noted, not failed.  Returns whether any output
    carries a gradient."""
    got = as_outputs(spec.function(*with_grad(args, which)), what=spec.name)
    expected = as_outputs(spec.reference(*with_grad(args, which)), what="reference")
    # The in-place arguments come last (see in_place.py): after the call each must hang off the
    # Function's own node, which only ctx.mark_dirty arranges.
    node = getattr(spec.function_class, "_backward_cls", None)
    for position, modified in zip(spec.in_place, got[len(got) - len(spec.in_place):]):
        if modified.requires_grad and node is not None and not isinstance(modified.grad_fn, node):
            raise AssertionError(
                f"{spec.name}: argument {position} is modified in place, but its history after the call does not go "
                f"through {spec.function_label} (grad_fn {type(modified.grad_fn).__name__}): "
                "a loss on it misses the Function; mark it with ctx.mark_dirty"
            )
    for k, (g, e) in enumerate(zip(got, expected)):
        if g.requires_grad == e.requires_grad:
            continue
        carrier, label = (spec.function, spec.name) if g.requires_grad else (spec.reference, "reference")
        _, grads = vjp(carrier, args, which, cotangents, what=label, used=(k,))
        flows = any(bool(x.ne(0).any()) for x in grads)  # NaN counts as flowing
        if g.requires_grad and flows:
            raise AssertionError(
                f"{spec.name}: output {k} ({g.dtype}) passes a gradient on, but the reference's output {k} is not "
                "differentiable: mark it with ctx.mark_non_differentiable"
            )
        if not g.requires_grad and flows:
            raise AssertionError(
                f"{spec.name}: output {k} does not require grad, but the reference's output {k} has a nonzero gradient: "
                "no gradient flows through it"
            )
        notes.append(
            f"output {k} requires grad {'but' if g.requires_grad else 'not, as'} the reference's "
            f"{'does not' if g.requires_grad else 'does'}; the gradient through it is zero here"
        )
    return any(g.requires_grad for g in got)


PROPERTY = Property(
    name="gradient_contract",
    summary="backward returns one gradient per input, each None or with its input's shape, dtype and device "
    "(checked before autograd silently casts it; a broadcast shape autograd sums is noted); each output requires grad exactly where the reference's does; "
    "an argument modified in place hangs off the Function afterwards (mark_dirty)",
    check=check_gradient_contract,
    draw=draw_args_and_cotangents,
)
