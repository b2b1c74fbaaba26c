"""Running a Function and its reference under autograd: inputs, outputs, VJPs, raw backward calls."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from autograd_props.custom_op import patched_registration
from autograd_props.spec import FunctionSpec, defines_setup_context

__all__ = [
    "BackwardCall",
    "as_outputs",
    "float64_args",
    "first_order",
    "function_nodes",
    "float64_cpu_args",
    "grads_of",
    "identical",
    "of_inputs",
    "recording_backward",
    "vjp",
    "vjp_map",
    "with_grad",
    "zeros_where_none",
]


def float64_args(args: Sequence[Any]) -> tuple[Any, ...]:
    """The same arguments with floating tensors upcast to float64 (exactly: every dtype fits)."""
    return tuple(a.to(torch.float64) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)


def float64_cpu_args(args: Sequence[Any]) -> tuple[Any, ...]:
    """``float64_args`` detached and on the CPU, where float64 exists on every backend's behalf."""
    return tuple(a.detach().to("cpu") if isinstance(a, torch.Tensor) else a for a in float64_args(args))


def with_grad(args: Sequence[Any], which: Sequence[int]) -> tuple[Any, ...]:
    """Fresh leaves: tensors at ``which`` require grad, the others are detached copies."""
    fresh = []
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            a = a.detach().clone().requires_grad_(i in which)
        fresh.append(a)
    return tuple(fresh)


def as_outputs(out: Any, *, what: str = "function") -> tuple[torch.Tensor, ...]:
    """A Function's result as a tuple of tensors; anything else is a clear error."""
    outs = out if isinstance(out, tuple) else (out,)
    for i, o in enumerate(outs):
        if not isinstance(o, torch.Tensor):
            raise TypeError(f"{what} returned {type(o).__name__} at output {i}; expected tensors")
    return outs


def identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same shape and the same values, NaN where the other has NaN (bitwise-equal sums)."""
    if a.shape != b.shape:
        return False
    if torch.equal(a, b):
        return True
    return bool(torch.isnan(a).eq(torch.isnan(b)).all() and torch.equal(a.nan_to_num(0.0), b.nan_to_num(0.0)))


def grads_of(
    outputs: Sequence[torch.Tensor],
    inputs: Sequence[torch.Tensor],
    cotangents: Sequence[torch.Tensor],
    *,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    used: Sequence[int] | None = None,
) -> tuple[torch.Tensor | None, ...]:
    """``torch.autograd.grad`` of the outputs that require grad, each with its cotangent.

    ``used``: the positions of the outputs the loss uses (default all); autograd gives the others'
    cotangents to backward as zeros, or as None under ``ctx.set_materialize_grads(False)``.
    None for an input no output depends on, and for every input when no output requires grad.
    """
    pairs = [(o, c) for k, (o, c) in enumerate(zip(outputs, cotangents)) if o.requires_grad and (used is None or k in used)]
    if not pairs or not inputs:
        return (None,) * len(inputs)
    return torch.autograd.grad(
        [o for o, _ in pairs],
        list(inputs),
        [c for _, c in pairs],
        allow_unused=True,
        retain_graph=retain_graph,
        create_graph=create_graph,
    )


def zeros_where_none(grads: Sequence[torch.Tensor | None], inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """A gradient autograd leaves as None is zero."""
    return tuple(torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs))


def vjp(
    fn: Callable[..., Any],
    args: Sequence[Any],
    which: Sequence[int],
    cotangents: Sequence[torch.Tensor],
    *,
    retain_graph: bool = False,
    what: str = "function",
    used: Sequence[int] | None = None,
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """(outputs, gradients for args[which]); a gradient autograd leaves as None becomes zeros.

    ``used``: only these outputs are in the loss (see :func:`grads_of`).
    """
    leaves = with_grad(args, which)
    outs = as_outputs(fn(*leaves), what=what)
    inputs = [leaves[i] for i in which]
    # Clones: a backward that writes into grad_output must not corrupt the caller's cotangents.
    grads = grads_of(outs, inputs, [c.clone() for c in cotangents], retain_graph=retain_graph, used=used)
    return tuple(o.detach() for o in outs), zeros_where_none(grads, inputs)


@dataclasses.dataclass
class BackwardCall:
    """One call of a Function's backward as autograd made it, before autograd's own fix-ups.

    Autograd quietly sums a gradient whose shape broadcasts to its input's and casts dtypes, so
    shape and dtype bugs are only visible in what backward itself returned.
    """

    inputs: tuple[Any, ...]  # per forward input: (shape, dtype, device) for tensors, else the type name
    grad_outputs: tuple[Any, ...]
    grad_outputs_before: tuple[Any, ...]  # (version, clone) taken before backward ran
    returned: tuple[Any, ...]


def _describe(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return (value.shape, value.dtype, value.device)
    return type(value).__name__


@contextlib.contextmanager
def _patched(cls: type, name: str, replacement: Callable[..., Any]) -> Iterator[None]:
    had_own = name in cls.__dict__
    own = cls.__dict__.get(name)
    setattr(cls, name, staticmethod(replacement))
    try:
        yield
    finally:
        if had_own:
            setattr(cls, name, own)
        else:
            delattr(cls, name)


@contextlib.contextmanager
def recording_backward(spec: FunctionSpec) -> Iterator[list[BackwardCall]]:
    """Record every backward (or vjp) call of the spec's Function while the block runs; restored
    afterwards.

    The forward inputs' metadata is recorded too (from ``setup_context`` in the modern style,
    from ``forward`` otherwise, from the registered ``setup_context`` of a custom op), keyed by
    ctx, so each call can be checked against its inputs.
    """
    inputs_of: dict[int, tuple[Any, ...]] = {}
    calls: list[BackwardCall] = []

    def record_inputs(ctx, inputs) -> None:
        inputs_of[id(ctx)] = tuple(_describe(x) for x in inputs)

    def record_backward(user_backward, ctx, *grad_outputs):
        before = tuple(
            (g._version, g.detach().clone()) if isinstance(g, torch.Tensor) else None for g in grad_outputs
        )
        returned = user_backward(ctx, *grad_outputs)
        returned_tuple = returned if isinstance(returned, tuple) else (returned,)
        calls.append(BackwardCall(inputs_of.get(id(ctx), ()), grad_outputs, before, returned_tuple))
        return returned

    if spec.custom_op is not None:
        with patched_registration(spec.custom_op, record_inputs, record_backward):
            yield calls
        return
    cls = spec.function_class
    Function = torch.autograd.Function
    backward_name = "vjp" if cls.vjp is not Function.vjp else "backward"
    modern = defines_setup_context(cls)
    forward_name = "setup_context" if modern else "forward"
    user_backward = getattr(cls, backward_name)
    user_forward = getattr(cls, forward_name)

    def forward_recorded(ctx, *rest):
        record_inputs(ctx, rest[0] if modern else rest)
        return user_forward(ctx, *rest)

    def backward_recorded(ctx, *grad_outputs):
        return record_backward(user_backward, ctx, *grad_outputs)

    with _patched(cls, forward_name, forward_recorded), _patched(cls, backward_name, backward_recorded):
        yield calls


def function_nodes(outs: Sequence[torch.Tensor], *, depth: int = 5) -> list[Any]:
    """The autograd nodes of the custom Function behind ``outs``: each output's ``grad_fn``, or,
    where the suite's wrappers put nodes of their own after the Function (a complex output's
    real view: stack, select, view_as_real), the first Function node within ``depth`` steps."""
    found = []
    for out in outs:
        frontier = [out.grad_fn] if out.grad_fn is not None else []
        for _ in range(depth):
            node = next((n for n in frontier if isinstance(n, torch.autograd.function.BackwardCFunction)), None)
            if node is not None:
                found.append(node)
                break
            frontier = [n for f in frontier for n, _ in f.next_functions if n is not None]
    return found


def of_inputs(fn: Callable[..., Any], args: Sequence[Any], which: Sequence[int], *, what: str = "function"):
    """``fn`` as a function of ``args[which]`` only (the rest fixed), returning a tuple of outputs.

    torch.func transforms take tensors positionally; this closes over non-tensor arguments.
    """

    def call(*xs):
        full = list(args)
        for i, x in zip(which, xs):
            full[i] = x
        return as_outputs(fn(*full), what=what)

    return call


def _differentiable(x):
    return x if x.requires_grad else x.detach().requires_grad_(True)


def first_order(fn, args: tuple[Any, ...], which, cotangents, *, create_graph: bool, fresh: bool = True):
    """(leaves, cotangent leaves, VJP): the VJP as a differentiable function of both.

    ``fresh=False`` keeps the given tensors (so an outer autograd, such as the oracle's Jacobian,
    sees through the VJP); ``fresh=True`` starts from new leaves.
    """
    if fresh:
        leaves = with_grad(args, which)
        cots = tuple(c.detach().clone().requires_grad_(c.is_floating_point()) for c in cotangents)
    else:
        leaves = tuple(_differentiable(a) if i in which else a for i, a in enumerate(args))
        # An integer output's cotangent is a placeholder (zeros); it has no derivative.
        cots = tuple(_differentiable(c) if c.is_floating_point() else c for c in cotangents)
    outs = as_outputs(fn(*leaves))
    inputs = [leaves[i] for i in which]
    grads = grads_of(outs, inputs, cots, create_graph=create_graph)
    return leaves, cots, zeros_where_none(grads, inputs)


def vjp_map(fn, n_args: int, which):
    """The VJP as a plain function of (args..., cotangents...), for the oracles."""

    def call(*args_and_cots):
        args, cots = args_and_cots[:n_args], args_and_cots[n_args:]
        with torch.enable_grad():
            return first_order(fn, args, which, cots, create_graph=True, fresh=False)[2]

    return call
