"""Property 'memory': nothing outlives the graph.

After backward, once the outputs are dropped, the ctx (the graph node) and every tensor saved for
backward must be freed (checked with weak references).  Inputs and outputs stored on ctx as
attributes are reported: autograd cannot check their versions, and an output stored there makes
a reference cycle that keeps the whole graph alive until the garbage collector runs.  A tensor
forward made for itself (an index, a mask) kept on ctx is noted, not failed: nothing else holds
it, so it can neither go stale nor leak.  So is an integer or boolean input kept there (sort
indices passed in): it cannot keep the graph alive, and only its versions go unchecked.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import torch

from autograd_props.harness import (
    as_outputs,
    function_nodes,
    grads_of,
    with_grad,
)
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr() if t.numel() else 0


def _forward_backward(spec: FunctionSpec, args, which, cotangents, saved: list) -> tuple[Any, list[str], list[str], list[str]]:
    """(a weak reference to the ctx, ctx attributes that alias an output or a floating input, those
    that alias an integer or boolean input, the others)."""

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(weakref.ref(t))
        return t

    leaves = with_grad(args, which)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        outs = as_outputs(spec.function(*leaves), what=spec.name)
    nodes = function_nodes(outs)
    if not nodes:
        return None, [], [], []
    ctx = nodes[0]
    # An input or output kept on ctx can go stale (modified in place, unseen by autograd) or keep
    # the graph alive (an output refers back to ctx); a tensor forward made for itself (an index,
    # a mask) can do neither: it is freed with the graph.
    # An index or mask passed in (Reformer's sort indices) cannot keep the graph alive and is never
    # differentiated: kept on ctx it is only unversioned, which a note says.
    indices = {_storage(t) for t in leaves if isinstance(t, torch.Tensor) and not (t.is_floating_point() or t.is_complex())} - {0}
    shared = {_storage(t) for t in (*leaves, *outs) if isinstance(t, torch.Tensor) and _storage(t) not in indices} - {0}
    tensors = {name: value for name, value in vars(ctx).items() if isinstance(value, torch.Tensor)}
    hazards = sorted(name for name, value in tensors.items() if _storage(value) in shared)
    index_inputs = sorted(name for name, value in tensors.items() if _storage(value) in indices and name not in hazards)
    others = sorted(set(tensors) - set(hazards) - set(index_inputs))
    grads_of(outs, [leaves[i] for i in which], cotangents)
    return weakref.ref(ctx), hazards, index_inputs, others


def check_memory(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> Verdict | list[float]:
    which = spec.differentiable(args)
    if not which:
        return []
    saved: list[weakref.ref] = []
    ctx_ref, hazards, index_inputs, others = _forward_backward(spec, args, which, cotangents, saved)
    if hazards:
        raise AssertionError(
            f"{spec.name}: inputs or outputs stored on ctx as attributes ({', '.join(hazards)}); "
            f"use ctx.save_for_backward so autograd tracks their versions and frees them with the graph"
        )
    notes = (f"tensors forward made for itself kept on ctx ({', '.join(others)}): freed with the graph, not a hazard",) if others else ()
    if index_inputs:
        notes += (
            f"integer or boolean inputs kept on ctx as attributes ({', '.join(index_inputs)}): they cannot keep the graph "
            "alive, but autograd does not see them modified in place (ctx.save_for_backward would)",
        )
    if ctx_ref is None:
        return Verdict(notes=notes)
    alive_ctx = ctx_ref() is not None
    alive_saved = sum(r() is not None for r in saved)
    if alive_ctx or alive_saved:
        gc.collect()
        still_ctx, still_saved = ctx_ref() is not None, sum(r() is not None for r in saved)
        raise AssertionError(
            f"{spec.name}: after backward and dropping the outputs, the ctx is "
            f"{'alive' if alive_ctx else 'freed'} and {alive_saved} of {len(saved)} saved tensors are alive "
            f"(after gc.collect: ctx {'alive' if still_ctx else 'freed'}, {still_saved} saved tensors alive); "
            f"something holds the graph (a reference cycle through ctx, or a global)"
        )
    return Verdict(notes=notes)


PROPERTY = Property(
    name="memory",
    summary="after backward, once the graph is dropped, the ctx and every saved tensor are freed; "
    "tensors stored on ctx as attributes are reported",
    check=check_memory,
    draw=draw_args_and_cotangents,
)
