"""The cost of checking a Function: the gate's checks vs torch.autograd.gradcheck.

All on the same Function and the same float64 CPU input, at 10 to 10^6 elements (issue 17):

* ``oracle``: one example of the gate's finite-difference check, exactly as the property
  ``vjp_finite_differences`` runs it (``vjp_dot_product`` and its ``check``): one backward for
  ``(J^T u) . v``, the sensitivities ``|J|^T |u|`` its tolerance is built from
  (``jacobian_magnitudes``: the reference's dense float64 Jacobian for small tensors, magnitudes
  propagated op by op past ``DENSE_JACOBIAN_LIMIT``), then ``finite_difference_slope`` (five
  float64 forward calls, Richardson extrapolation, the kink test, the tolerance) and
  ``FiniteDifferenceResult.check``;
* ``oracle-native``: one example of ``vjp_native`` (``check_vjp_native``): the Function's VJP,
  the reference's in the argument dtype and in float64, the same sensitivities, the comparison;
* ``oracle-fd``: the ``oracle`` example without its sensitivities (computed beforehand, untimed):
  what the finite differences themselves cost;
* ``oracle-strict`` / ``oracle-native-strict``: the same two checks as a property runs them with
  ``strict_first`` on: judged first with zero magnitudes on copies of the example, sized only
  when that is not clean;
* ``function``: the Function's own forward plus backward on the same input and cotangent: what
  the issue's "at most 10x" at 10^6 elements is measured against;
* ``gradcheck-fast`` / ``gradcheck-slow``: ``torch.autograd.gradcheck`` with its defaults, in
  fast mode (one random projection) and slow mode (the full Jacobian: two forward calls per
  input element and one backward per output element).  Slow mode grows as numel^2: about a
  second at 1000 elements here, so over a minute from 10,000; it is stopped there.

Each records the median minor page faults of its rounds (``minor_faults``, page_faults.py): at
10^6 elements fresh memory can cost as much as the arithmetic.

A reference the magnitude propagation cannot size past the dense limit (an op it has no rule
for) skips its oracle cells, naming the op, as the gate does: the strict ones only where the strict
pass is not clean, since a clean one needs no sizes.  Each benchmark also asserts that
its check passed, so a failing check is never what is timed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from autograd_props import FunctionSpec, strict_first
from autograd_props.dot_product import vjp_dot_product
from autograd_props.harness import as_outputs, vjp
from autograd_props.oracles import BeyondOracle, FiniteDifferenceResult, jacobian_magnitudes
from autograd_props.properties.vjp_finite_differences import check_vjp_finite_differences
from autograd_props.properties.vjp_native import check_vjp_native
from autograd_props.results import Verdict
from benchmarks.inputs import BenchInput, bench_input
from benchmarks.page_faults import FaultCounter

DTYPE = torch.float64
CHECK_IMPLS = ("oracle", "oracle-native", "oracle-fd", "oracle-strict", "oracle-native-strict", "function", "gradcheck-fast", "gradcheck-slow")
ORACLE_IMPLS = ("oracle", "oracle-native", "oracle-fd", "oracle-strict", "oracle-native-strict")
GRADCHECK_SLOW_MAX_NUMEL = 1000
# gradcheck-slow takes about a second at 1000 elements: a fixed, small number of rounds there.
SLOW_ROUNDS = {1000: 3}


def impls_for(spec: FunctionSpec) -> tuple[str, ...]:
    return CHECK_IMPLS


def _example(spec: FunctionSpec, numel: int) -> tuple[BenchInput, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Seeded float64 args, a cotangent like the output, and a direction per differentiable input."""
    inp = bench_input(spec.name, numel, dtype=DTYPE, device="cpu")
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        outputs = as_outputs(spec.reference(*inp.args))
    cotangents = tuple(
        torch.randn(o.shape, generator=generator, dtype=DTYPE) if o.is_floating_point() else torch.zeros_like(o) for o in outputs
    )
    directions = tuple(torch.randn(inp.args[i].shape, generator=generator, dtype=DTYPE) for i in inp.which)
    return inp, cotangents, directions


def gradcheck_call(spec: FunctionSpec, inp: BenchInput, *, fast_mode: bool):
    """A zero-argument gradcheck of the Function over its differentiable inputs."""
    which = inp.which

    def of_tensors(*tensors: torch.Tensor):
        full = list(inp.args)
        for i, t in zip(which, tensors):
            full[i] = t
        return spec.function(*full)

    leaves = tuple(inp.args[i].detach().requires_grad_() for i in which)
    return lambda: torch.autograd.gradcheck(of_tensors, leaves, fast_mode=fast_mode)


def _oracle_call(spec: FunctionSpec, impl: str, inp: BenchInput, cotangents, directions, sensitivities) -> Callable[[], Any]:
    if impl.endswith("-strict"):
        check, kwargs = (
            (check_vjp_native, {"args": inp.args, "cotangents": cotangents}) if impl == "oracle-native-strict"
            else (check_vjp_finite_differences, {"args": inp.args, "cotangents": cotangents, "directions": directions})
        )
        # what Property.run does with strict_first on
        return lambda: strict_first.judged(check, spec, kwargs) or Verdict.of(check(spec, **kwargs))
    if impl == "oracle-native":
        return lambda: check_vjp_native(spec, args=inp.args, cotangents=cotangents)
    # oracle-fd: the finite differences alone, the example's sensitivities computed untimed
    given = sensitivities if impl == "oracle-fd" else None

    def call() -> FiniteDifferenceResult:
        result = vjp_dot_product(spec, inp.args, cotangents, directions, sensitivities=given)
        result.check(f"{spec.name}: (J^T u).v from backward")
        return result

    return call


def test_check_cost(benchmark, spec: FunctionSpec, impl: str, check_numel: int) -> None:
    if spec.surrogate_gradient:
        pytest.skip(f"{spec.name}: surrogate gradient, not the derivative: neither oracle nor gradcheck applies")
    if impl == "gradcheck-slow" and check_numel > GRADCHECK_SLOW_MAX_NUMEL:
        pytest.skip(f"gradcheck-slow grows as numel^2 (about a second at {GRADCHECK_SLOW_MAX_NUMEL} elements here): above it, over a minute")
    inp, cotangents, directions = _example(spec, check_numel)
    benchmark.group = f"check {spec.name} n={check_numel}"
    benchmark.extra_info.update(
        function=spec.name, impl=impl, numel=check_numel, measure="check", device="cpu", dtype="float64", shape=inp.shape
    )
    if impl in ORACLE_IMPLS:
        strict = impl.endswith("-strict")
        try:
            # strict: sized only where the strict pass is not clean, so run once to see if it can judge
            sensitivities = None if strict else jacobian_magnitudes(spec.reference, inp.args, inp.which, cotangents).vjp
            call = _oracle_call(spec, impl, inp, cotangents, directions, sensitivities)
            if strict:
                call()
        except BeyondOracle as beyond:  # what the gate skips too: no timing of a check that cannot judge
            pytest.skip(f"{spec.name} at {check_numel} elements: {beyond}")
    elif impl == "function":
        call = lambda: vjp(spec.function, inp.args, inp.which, cotangents, what=spec.name)
    else:
        call = gradcheck_call(spec, inp, fast_mode=impl == "gradcheck-fast")
    rounds = SLOW_ROUNDS.get(check_numel) if impl == "gradcheck-slow" else None
    counted = FaultCounter(call)
    result = benchmark.pedantic(counted, rounds=rounds, warmup_rounds=0) if rounds else benchmark(counted)
    benchmark.extra_info["minor_faults"] = counted.median()
    assert result is not False
    if isinstance(result, FiniteDifferenceResult):
        benchmark.extra_info["fd_smooth"] = result.smooth
