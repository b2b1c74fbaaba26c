"""Property 'vjp_native': gradients for random cotangents match the reference under native autograd.

Judged in float64 (see :mod:`autograd_props.oracles`).  Where the reference's float64 gradient
is NaN or inf but the Function's is finite, the reference cannot judge: those elements are judged
by finite differences of the Function itself (:mod:`autograd_props.fallbacks`).  Where a failing
element sits at a non-differentiable point and the Function took the other one-sided derivative,
the failure says so (:mod:`autograd_props.kinks`), and ``kinks="any-one-sided"`` accepts it.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from autograd_props import kinks
from autograd_props.conditioning import gradient_conditioning
from autograd_props.fallbacks import judge_unjudged_gradients
from autograd_props.harness import float64_args, vjp
from autograd_props.oracles import (
    ToleranceError,
    assert_matches_truth,
    jacobian_magnitudes,
    native_error_of,
    native_relative_error,
)
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def check_vjp_native(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> Verdict:
    """Gradients of the Function equal the reference's under native autograd (judged in float64)."""
    return compare_vjp_with_reference(spec, args, cotangents)


def compare_vjp_with_reference(
    spec: FunctionSpec, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...], *, used: tuple[int, ...] | None = None, loss: str = ""
) -> Verdict:
    """The Function's VJP against the reference's.  ``used``: the loss uses only these outputs, so
    the Function's backward sees the others' cotangents as zeros or None (the reference is given
    zeros for them); ``loss`` names that loss in failures."""
    which = spec.differentiable(args)
    _, got = vjp(spec.function, args, which, cotangents, what=spec.name, used=used)
    if used is not None:
        cotangents = tuple(c if k in used else torch.zeros_like(c) for k, c in enumerate(cotangents))
    _, native = vjp(spec.reference, args, which, cotangents, what="reference")
    args64, cotangents64 = float64_args(args), float64_args(cotangents)
    if all(a is b for a, b in zip((*args64, *cotangents64), (*args, *cotangents))):
        truth = native  # already float64 (or complex128): the truth is the same computation
    else:
        _, truth = vjp(spec.reference, args64, which, cotangents64, what="reference")
    sizes = jacobian_magnitudes(spec.reference, args, which, cotangents)
    margins, notes, unjudged = [], [], {}
    elsewhere: list[Any] = []  # measured once, for a failure only (both only widen)
    for k, (i, g, n, t, m) in enumerate(zip(which, got, native, truth, sizes.vjp)):
        what = f"{spec.name} gradient of argument {i}{loss}"
        judge = functools.partial(
            assert_matches_truth, g, n, t, tolerance=spec.tolerance(args[i].dtype), what=what, reference_may_fail=True,
            coupled=sizes.input_coupling[k] if sizes.input_coupling else None,
        )
        try:
            try:
                comparison = judge(m)
            except ToleranceError:
                if truth is native:  # float64: native is the truth for every cotangent
                    raise
                if not elsewhere:
                    elsewhere.append(native_error_for_other_cotangents(spec, args, which, cotangents, used))
                    elsewhere.append(gradient_conditioning(spec.reference, args, which, cotangents))
                relative, conditioning = elsewhere[0][k], elsewhere[1]
                if not relative and conditioning is None:
                    raise
                comparison = judge(m if conditioning is None else m + conditioning[k], relative_elsewhere=relative)
                notes.append(f"{what}: within native's rounding at these inputs for other cotangents and the gradient's "
                             "conditioning in its inputs")
        except ToleranceError as exc:
            calls = kinks.classify(spec.reference, args, i, cotangents, exc.failing, exc.got, exc.truth, exc.allowed)
            examined = int(exc.failing.sum()) <= kinks.MAX_ELEMENTS
            if examined and all(c.reference_off for c in calls):
                notes.append(
                    f"{what}: at {len(calls)} elements the reference's derivative is no one-sided derivative of its own "
                    "forward and the Function's is: judged by one-sided finite differences of the reference"
                )
                continue
            at_kinks = examined and all(c.one_sided for c in calls)
            if spec.kinks == "any-one-sided" and at_kinks:
                notes.append(f"{what}: {len(calls)} elements at non-differentiable points took the other one-sided derivative (kinks='any-one-sided')")
                continue
            raise AssertionError(f"{exc}{kinks.describe(calls)}") from None
        margins.append(comparison.margin)
        if comparison.unjudged_count:
            unjudged[i] = comparison.unjudged
    if unjudged:
        notes.append(judge_unjudged_gradients(spec, args, cotangents, got, unjudged))
    return Verdict(tuple(margins), tuple(notes))


# Random cotangents on which native's rounding at the example's inputs is measured.
OTHER_COTANGENTS = 3


def native_error_for_other_cotangents(
    spec: FunctionSpec, args: tuple[Any, ...], which: tuple[int, ...], cotangents: tuple[torch.Tensor, ...], used: tuple[int, ...] | None
) -> tuple[float, ...]:
    """Per differentiable argument, native's worst error relative to the magnitudes at the same
    inputs over ``OTHER_COTANGENTS`` seeded random cotangents (``oracles.native_allowance``'s
    ``relative_elsewhere``): whether native's exactness at the drawn cotangent is luck."""
    worst = [0.0] * len(which)
    args64 = float64_args(args)
    for seed in range(OTHER_COTANGENTS):
        generator = torch.Generator().manual_seed(seed)
        others = tuple(
            torch.randn(c.shape, generator=generator, dtype=torch.float64).to(c.dtype).to(c.device)
            if c.is_floating_point() and (used is None or k in used) else torch.zeros_like(c)
            for k, c in enumerate(cotangents)
        )
        _, native = vjp(spec.reference, args, which, others, what="reference")
        _, truth = vjp(spec.reference, args64, which, float64_args(others), what="reference")
        sizes = jacobian_magnitudes(spec.reference, args, which, others).vjp
        for k, (n, t, m) in enumerate(zip(native, truth, sizes)):
            n, t = n.detach().to("cpu", torch.float64), t.detach().to("cpu", torch.float64)
            error = native_error_of(n, t)
            magnitude = torch.nan_to_num(m.to("cpu", torch.float64), nan=0.0)
            worst[k] = max(worst[k], float(native_relative_error(error, magnitude, args[which[k]].dtype)))
    return tuple(worst)


PROPERTY = Property(
    name="vjp_native",
    summary="gradients for random cotangents match the reference under native autograd",
    check=check_vjp_native,
    draw=draw_args_and_cotangents,
    without_reference="the Function's own float64 gradient is the truth, so in float64 there is nothing to compare it with "
    "(vjp_finite_differences checks it against the forward's slope; the other dtypes are compared with it)",
    strict_first=True,
)
