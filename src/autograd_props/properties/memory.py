"""Property 'memory': nothing outlives the graph.

After backward, once the outputs are dropped, the ctx (the graph node) and every tensor saved for
backward must be freed (checked with weak references).  Tensors stored on ctx as attributes are
reported: autograd cannot check their versions, and an output stored there makes a reference
cycle that keeps the whole graph alive until the garbage collector runs.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import torch

from autograd_props.harness import (
    as_outputs,
    grads_of,
    with_grad,
)
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.spec import FunctionSpec


def _forward_backward(spec: FunctionSpec, args, which, cotangents, saved: list) -> tuple[Any, list[str]]:
    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(weakref.ref(t))
        return t

    leaves = with_grad(args, which)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        outs = as_outputs(spec.function(*leaves), what=spec.name)
    nodes = [o.grad_fn for o in outs if o.grad_fn is not None]
    if not nodes:
        return None, []
    ctx = nodes[0]
    on_ctx = sorted(name for name, value in vars(ctx).items() if isinstance(value, torch.Tensor))
    grads_of(outs, [leaves[i] for i in which], cotangents)
    return weakref.ref(ctx), on_ctx


def check_memory(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> list[float]:
    which = spec.differentiable(args)
    if not which:
        return []
    saved: list[weakref.ref] = []
    ctx_ref, on_ctx = _forward_backward(spec, args, which, cotangents, saved)
    if on_ctx:
        raise AssertionError(
            f"{spec.name}: tensors stored on ctx as attributes ({', '.join(on_ctx)}); "
            f"use ctx.save_for_backward so autograd tracks their versions and frees them with the graph"
        )
    if ctx_ref is None:
        return []
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
    return []


PROPERTY = Property(
    name="memory",
    summary="after backward, once the graph is dropped, the ctx and every saved tensor are freed; "
    "tensors stored on ctx as attributes are reported",
    check=check_memory,
    draw=draw_args_and_cotangents,
)
