"""Property 'compile': torch.compile(backend="aot_eager") gives eager's outputs and gradients.

Compilation is slow, so this property runs at most COMPILE_EXAMPLES examples per cell, with
``dynamic=True``.  The examples of one cell (one spec, dtype and device) share one compiled
function, as a user's compiled model serves inputs of many shapes: an example whose guards hold
runs the graph compiled for an earlier one, dynamic shapes and all, and one whose guards fail is
compiled afresh.  The compile cache is reset at each new cell and after RECOMPILES_BEFORE_RESET
examples that compiled, well below dynamo's recompile limit, so no example silently falls back
to eager.  Where no compiled graph ran in an example (dynamo left the whole Function to eager:
``torch.compiler.disable``, a graph break around all of it), the results are eager's, which is
what a user's compiled model then computes: correct, and said so in a note, since no compiled
code was checked.
"""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.compat import compile_backend, compile_settings
from autograd_props.harness import vjp
from autograd_props.oracles import assert_same_result, jacobian_magnitudes
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec

COMPILE_EXAMPLES = 5
# Examples that compiled something before the cache is reset: each compiles a code object at most
# once, so no code object nears dynamo's recompile limit (8), past which it would run eagerly.
RECOMPILES_BEFORE_RESET = 4


class _GraphCounter:
    """The compile backend, wrapped to count the compiled graphs it makes and the times they run."""

    def __init__(self, backend: Any) -> None:
        import torch._dynamo as dynamo  # when a compile cell runs, not at import (compat.unsupported_without_importing)

        self.backend = dynamo.lookup_backend(backend) if isinstance(backend, str) else backend
        self.compiled = 0
        self.ran = 0

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list[Any]):
        compiled = self.backend(gm, example_inputs)
        self.compiled += 1

        def run(*args):
            self.ran += 1
            return compiled(*args)

        return run


class _CellCompilation:
    """The compiled function the running cell's examples share (see the module's docstring)."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.counter: _GraphCounter | None = None
        self.compiled_fn: Any = None
        self.examples_that_compiled = 0

    def for_example(self, spec: FunctionSpec, args: tuple[Any, ...]):
        key = (id(spec), spec.name, tuple((a.dtype, a.device.type) for a in args if isinstance(a, torch.Tensor)))
        if key != self.key or self.examples_that_compiled >= RECOMPILES_BEFORE_RESET:
            import torch._dynamo as dynamo

            dynamo.reset()
            self.key, self.examples_that_compiled = key, 0
            self.counter = _GraphCounter(compile_backend())

            def call(*a):
                return spec.function(*a)

            self.compiled_fn = torch.compile(call, backend=self.counter, dynamic=True)
        return self.compiled_fn, self.counter


_CELL = _CellCompilation()


RAN_EAGERLY = (
    "torch.compile ran no compiled graph: dynamo left the whole Function to eager (torch.compiler.disable, or a graph "
    "break around all of it), so the compiled results are eager's: correct, but no compiled code was checked"
)


def check_compile(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> Verdict:
    which = spec.differentiable(args)
    compiled, counter = _CELL.for_example(spec, args)
    compiled_before, ran_before = counter.compiled, counter.ran
    with compile_settings():
        got_out, got_grads = vjp(compiled, args, which, cotangents, what=f"compiled {spec.name}")
    if counter.compiled > compiled_before:
        _CELL.examples_that_compiled += 1
    notes = (RAN_EAGERLY,) if counter.ran == ran_before else ()
    exp_out, exp_grads = vjp(spec.function, args, which, cotangents, what=spec.name)
    magnitudes = jacobian_magnitudes(spec.reference, args, which, cotangents)
    margins = []
    for k, (g, e, m) in enumerate(zip(got_out, exp_out, magnitudes.forward)):
        margins.append(assert_same_result(g, e, m, tolerance=spec.tolerance(e.dtype), what=f"{spec.name} compiled output {k}").margin)
    for i, g, e, m in zip(which, got_grads, exp_grads, magnitudes.vjp):
        margins.append(assert_same_result(g, e, m, tolerance=spec.tolerance(e.dtype), what=f"{spec.name} compiled gradient of argument {i}").margin)
    return Verdict(tuple(margins), notes)


PROPERTY = Property(
    name="compile",
    summary=f"torch.compile(backend=\"aot_eager\", dynamic=True) gives eager's outputs and gradients "
    f"(at most {COMPILE_EXAMPLES} examples per cell)",
    check=check_compile,
    draw=draw_args_and_cotangents,
    max_examples=COMPILE_EXAMPLES,
)
