"""Property 'compile': torch.compile(backend="aot_eager") gives eager's outputs and gradients.

Compilation is slow, so this property runs at most COMPILE_EXAMPLES examples per cell, with
``dynamic=True`` and the compile cache reset per example (so no example silently falls back to
eager after dynamo's recompile limit).  It fails if dynamo captured no graph at all.
"""

from __future__ import annotations

from typing import Any

import torch
import torch._dynamo

from autograd_props.compat import compile_backend, compile_settings
from autograd_props.harness import vjp
from autograd_props.oracles import assert_same_result, jacobian_magnitudes
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.spec import FunctionSpec

COMPILE_EXAMPLES = 5


def check_compile(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> list[float]:
    which = spec.differentiable(args)
    torch._dynamo.reset()
    counters = torch._dynamo.utils.counters
    counters.clear()

    def call(*a):
        return spec.function(*a)

    compiled = torch.compile(call, backend=compile_backend(), dynamic=True)
    with compile_settings():
        got_out, got_grads = vjp(compiled, args, which, cotangents, what=f"compiled {spec.name}")
    if not counters["stats"]["unique_graphs"]:
        raise AssertionError(f"{spec.name}: torch.compile captured no graph (everything fell back to eager)")
    exp_out, exp_grads = vjp(spec.function, args, which, cotangents, what=spec.name)
    magnitudes = jacobian_magnitudes(spec.reference, args, which, cotangents)
    margins = []
    for k, (g, e, m) in enumerate(zip(got_out, exp_out, magnitudes.forward)):
        margins.append(assert_same_result(g, e, m, tolerance=spec.tolerance(e.dtype), what=f"{spec.name} compiled output {k}").margin)
    for i, g, e, m in zip(which, got_grads, exp_grads, magnitudes.vjp):
        margins.append(assert_same_result(g, e, m, tolerance=spec.tolerance(e.dtype), what=f"{spec.name} compiled gradient of argument {i}").margin)
    return margins


PROPERTY = Property(
    name="compile",
    summary=f"torch.compile(backend=\"aot_eager\", dynamic=True) gives eager's outputs and gradients "
    f"(at most {COMPILE_EXAMPLES} examples per cell)",
    check=check_compile,
    draw=draw_args_and_cotangents,
    max_examples=COMPILE_EXAMPLES,
)
