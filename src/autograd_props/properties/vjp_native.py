"""Property 'vjp_native': gradients for random cotangents match the reference under native autograd.

Judged in float64 (see :mod:`autograd_props.oracles`).  Where the reference's float64 gradient
is NaN or inf but the Function's is finite, the reference cannot judge: those elements are judged
by finite differences of the Function itself (:mod:`autograd_props.fallbacks`).  Where a failing
element sits at a non-differentiable point and the Function took the other one-sided derivative,
the failure says so (:mod:`autograd_props.kinks`), and ``kinks="any-one-sided"`` accepts it.
"""

from __future__ import annotations

from typing import Any

import torch

from autograd_props import kinks
from autograd_props.fallbacks import judge_unjudged_gradients
from autograd_props.harness import float64_args, vjp
from autograd_props.oracles import ToleranceError, assert_matches_truth, jacobian_magnitudes
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
    for k, (i, g, n, t, m) in enumerate(zip(which, got, native, truth, sizes.vjp)):
        what = f"{spec.name} gradient of argument {i}{loss}"
        try:
            comparison = assert_matches_truth(
                g, n, t, m, tolerance=spec.tolerance(args[i].dtype), what=what, reference_may_fail=True,
                coupled=sizes.input_coupling[k] if sizes.input_coupling else None,
            )
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


PROPERTY = Property(
    name="vjp_native",
    summary="gradients for random cotangents match the reference under native autograd",
    check=check_vjp_native,
    draw=draw_args_and_cotangents,
    without_reference="the Function's own float64 gradient is the truth, so in float64 there is nothing to compare it with "
    "(vjp_finite_differences checks it against the forward's slope; the other dtypes are compared with it)",
    strict_first=True,
)
