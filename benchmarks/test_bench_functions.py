"""Forward+backward time of every built-in Function against its native reference.

One benchmark per (Function, impl, size, device), float32.  The timed call is one forward and
one ``torch.autograd.grad`` with a fixed cotangent, on inputs built once with a seeded generator
(``benchmarks/inputs.py``); on CUDA it synchronises before returning, so the clock reads the
finished work.  Ratios are computed by the report from the JSON, never asserted here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from autograd_props import FunctionSpec
from autograd_props.harness import as_outputs, grads_of
from benchmarks.inputs import EXTRA_REFERENCES, BenchInput, bench_input

DTYPE = torch.float32


def implementations(spec: FunctionSpec) -> dict[str, Callable[..., Any]]:
    """impl name -> callable: the custom Function, its native reference, and any extra baseline."""
    return {"custom": spec.function, "native": spec.reference, **EXTRA_REFERENCES.get(spec.name, {})}


def impls_for(spec: FunctionSpec) -> list[str]:
    """The impls each spec is timed in (conftest parametrizes ``spec`` and ``impl`` with it)."""
    return list(implementations(spec))


def make_step(fn: Callable[..., Any], inp: BenchInput, device: str) -> Callable[[], Any]:
    """A zero-argument forward+backward call of ``fn`` on leaves built once from ``inp``."""
    args = tuple(a.detach().requires_grad_(i in inp.which) if isinstance(a, torch.Tensor) else a for i, a in enumerate(inp.args))
    leaves = [args[i] for i in inp.which]
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        outputs = as_outputs(fn(*args))
    # A cotangent per output (several for sincos); an integer output (sort's indices) takes none.
    cotangents = tuple(
        torch.randn(o.shape, generator=generator).to(device=device, dtype=DTYPE) if o.is_floating_point() else torch.zeros_like(o)
        for o in outputs
    )
    synchronize = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)

    def step():
        grads = grads_of(as_outputs(fn(*args)), leaves, cotangents)
        synchronize()
        return grads

    return step


def test_fwd_bwd(benchmark, spec: FunctionSpec, impl: str, numel: int, device: str) -> None:
    impls = implementations(spec)
    inp = bench_input(spec.name, numel, dtype=DTYPE, device=device)
    benchmark.group = f"fwd+bwd {spec.name} {device}"
    benchmark.extra_info.update(
        function=spec.name, impl=impl, numel=numel, measure="fwd+bwd", device=device, dtype="float32", shape=inp.shape
    )
    step = make_step(impls[impl], inp, device)
    step()  # warm-up: first-call dispatch and allocator caches stay out of the timings
    grads = benchmark(step)
    assert len(grads) == len(inp.which)
