"""Property 'forward_ad': forward-mode AD through the Function.

A Function with a ``jvp`` claims forward mode: its tangents (torch.func.jvp and dual numbers
alike) must match the reference's and, in float64, finite differences of its own forward.  A
Function without ``jvp`` must raise rather than return tangents.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.autograd.forward_ad as fwAD
from hypothesis import strategies as st

from autograd_props import kinks
from autograd_props.cell import Cell
from autograd_props.harness import (
    as_outputs,
    float64_args,
    float64_cpu_args,
    of_inputs,
    with_grad,
)
from autograd_props.messages import first_line
from autograd_props.oracles import (
    assert_matches_truth,
    assert_same_result,
    finite_difference_slope,
    jacobian_magnitudes,
)
from autograd_props.properties.base import (
    Property,
    draw_args,
    draw_cotangents,
    draw_like,
)
from autograd_props.results import NOT_CLAIMED, Verdict
from autograd_props.spec import FunctionSpec

# torch.library has no forward-mode registration, and torch (seen in 2.13) runs a custom op whose
# inputs do not require grad, dual tensors included, below autograd: the tangents are dropped.
CUSTOM_OP_NOTE = (
    f"{NOT_CLAIMED}: a custom op cannot register forward-mode AD, and torch {torch.__version__} drops the tangents "
    "through it (no tangent, read as zero) instead of raising: forward mode through this op is silently wrong"
)


BYPASS_NOTE = (
    "{label} defines no jvp, yet forward mode through the spec's function returned tangents: it does not call the "
    "Function when the inputs do not require grad (a wrapper that goes around it), so that path's tangents are judged"
)


def _dual_tangents(fn, args, which, tangents) -> tuple[torch.Tensor, ...]:
    """Forward mode with dual numbers, which every Function style supports; no tangent is zero."""
    with fwAD.dual_level():
        full = list(args)
        for i, t in zip(which, tangents):
            full[i] = fwAD.make_dual(args[i], t)
        outs = as_outputs(fn(*full))
        unpacked = [fwAD.unpack_dual(o) for o in outs]
        return tuple(torch.zeros_like(u.primal) if u.tangent is None else u.tangent for u in unpacked)


def _reference_tangents(spec, args, which, tangents) -> tuple[torch.Tensor, ...]:
    """The reference's tangents (without one, the Function's own: dual numbers, since torch.func
    refuses classic-style Functions)."""
    if not spec.has_reference:
        return _dual_tangents(spec.reference, args, which, tangents)
    outs, tangents_out = torch.func.jvp(of_inputs(spec.reference, args, which), tuple(args[i] for i in which), tangents)
    # A tangent has its output's dtype; torch.func.jvp can break that (torch 2.13: a 0-d float32
    # tensor divided by a Python float gets a float64 tangent), which is no fault of the Function
    # compared with it.
    return tuple(t.to(o.dtype) for t, o in zip(tangents_out, as_outputs(outs)))


def _tangents_while_recording(spec, args, which, tangents) -> tuple[torch.Tensor, ...]:
    """The Function's tangents with its inputs also requiring grad, as training code runs forward
    mode (a Hessian-vector product, jacfwd over a model): its jvp then sees saved tensors that
    require grad, on which NumPy, in-place updates and ``.data`` writes raise or go wrong."""
    try:
        tangents_out = _dual_tangents(spec.function, with_grad(args, which), which, tangents)
    except Exception as exc:  # whatever the jvp raises is the finding
        raise AssertionError(
            f"{spec.name}: forward-mode AD raised when the inputs also require grad (it runs when they do not): "
            f"{type(exc).__name__}: {first_line(exc)}"
        ) from None
    return tuple(t.detach() for t in tangents_out)


def check_forward_ad(
    spec: FunctionSpec,
    *,
    args: tuple[Any, ...],
    tangents: tuple[torch.Tensor, ...],
    cotangents: tuple[torch.Tensor, ...],
) -> Verdict | list[float]:
    which = spec.differentiable(args)
    if not which:
        return []
    primals = tuple(args[i] for i in which)
    custom = of_inputs(spec.function, args, which, what=spec.name)
    if not spec.claims_forward_ad:
        try:
            _dual_tangents(spec.function, args, which, tangents)
        except (RuntimeError, NotImplementedError):
            return Verdict(notes=(f"{NOT_CLAIMED}: no jvp, and forward mode raised as it must",))
        if spec.custom_op is not None:  # torch's gap, not the op's: there is nothing to register
            return Verdict(notes=(CUSTOM_OP_NOTE,))
    # A Function without a jvp raises under forward mode: tangents from the spec's function mean
    # it went around the Function (a checkpoint helper that skips it when nothing requires grad).
    # What that path gives is what a user gets: it is judged as a jvp is; with the inputs
    # requiring grad it calls the Function, which rightly raises, so that pass is left out.
    bypassed = not spec.claims_forward_ad
    got = _dual_tangents(spec.function, args, which, tangents)
    recording = got if bypassed else _tangents_while_recording(spec, args, which, tangents)
    args64 = float64_args(args)
    native = _reference_tangents(spec, args, which, tangents)
    truth = _reference_tangents(spec, args64, which, float64_args(tangents))
    # A derivative at an infinite or NaN value is undefined: those elements are not compared.
    with torch.no_grad():
        defined = [torch.isfinite(o) for o in as_outputs(spec.reference(*args64))]

    def where_defined(xs):
        return tuple(None if x is None else torch.where(d.to(x.device), x, torch.zeros_like(x)) for d, x in zip(defined, xs))

    got, native, truth, recording = where_defined(got), where_defined(native), where_defined(truth), where_defined(recording)
    # One Jacobian for both: the jvp magnitudes here, |J|^T |u| for the finite differences below.
    jacobian = jacobian_magnitudes(spec.reference, args, which, cotangents=cotangents, tangents=tangents)
    magnitudes = jacobian.jvp
    tolerance = spec.tolerance(primals[0].dtype)
    margins = []
    notes = [BYPASS_NOTE.format(label=spec.function_label)] if bypassed else []
    for k, (g, n, t, m) in enumerate(zip(got, native, truth, magnitudes)):
        what = f"{spec.name} jvp of output {k}"
        comparison = kinks.judged_at_kinks(
            functools.partial(assert_matches_truth, g, n, t, m, tolerance=tolerance, what=what),
            spec, lambda a64, k=k: where_defined(_reference_tangents(spec, a64, which, float64_cpu_args(tangents)))[k],
            args, which, what=what, notes=notes,
        )
        if comparison is not None:
            margins.append(comparison.margin)
    for k, (r, g, m) in enumerate(zip(recording, got, magnitudes)):
        what = f"{spec.name} jvp of output {k} with the inputs also requiring grad, against the same without"
        margins.append(assert_same_result(r, g, m, tolerance=tolerance, what=what).margin)
    if spec.supports_functorch:
        _, transformed = torch.func.jvp(custom, primals, tangents)
        for k, (f, g, m) in enumerate(zip(where_defined(transformed), got, magnitudes)):
            margins.append(assert_same_result(f, g, m, tolerance=tolerance, what=f"{spec.name} torch.func.jvp tangent of output {k}").margin)
    else:
        notes.append("classic-style Function: checked with dual numbers (torch.func.jvp refuses it, as PyTorch does every Function without setup_context)")
    if primals[0].dtype == torch.float64 and not spec.surrogate_gradient:
        analytic = sum(float((u * g).sum()) for u, g in zip(float64_args(cotangents), got))
        result = finite_difference_slope(spec.function, args, which, cotangents, tangents, analytic, sensitivities=jacobian.vjp)
        margins.append(result.check(f"{spec.name}: u.(J v) from jvp"))
    return Verdict(tuple(margins), tuple(notes))


def _draw(cell: Cell, data: st.DataObject) -> dict[str, Any]:
    args = draw_args(cell, data)
    tangents = draw_like(data, tuple(args[i] for i in cell.spec.differentiable(args)), label="tangents")
    return {"args": args, "tangents": tangents, "cotangents": draw_cotangents(cell, data, args)}


PROPERTY = Property(
    name="forward_ad",
    summary="with a jvp: dual numbers (and torch.func.jvp, for a Function with setup_context) match the reference "
    "and finite differences; "
    "without one: forward mode must raise",
    check=check_forward_ad,
    draw=_draw,
    strict_first=True,
)
