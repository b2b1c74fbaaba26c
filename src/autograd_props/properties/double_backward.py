"""Property 'double_backward': gradients of the VJP (create_graph=True).

With respect to the inputs and to the cotangent, the second-order gradients must match the
reference's and, in float64, finite differences of the Function's own VJP.  This is what catches
a backward that detaches its saved tensors (second derivatives silently zero) and a Function
that saves an intermediate that is neither input nor output (silently wrong).  A backward marked
``once_differentiable`` must raise when differentiated.  A Function that also claims a jvp must
support forward mode through its backward (fwd-over-rev, gradcheck's ``check_fwd_over_rev``:
``torch.func.hessian`` runs it), with the reference's values.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.autograd.forward_ad as fwAD
from hypothesis import strategies as st

from autograd_props import kinks
from autograd_props.cell import Cell
from autograd_props.fallbacks import compare_with_own_float64
from autograd_props.harness import (
    as_outputs,
    first_order,
    float64_args,
    float64_cpu_args,
    grads_of,
    vjp_map,
    zeros_where_none,
)
from autograd_props.messages import first_line
from autograd_props.oracles import (
    ToleranceError,
    assert_matches_truth,
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


def second_order(fn, args, which, cotangents, directions) -> tuple[torch.Tensor, ...]:
    """d/d(inputs, cotangents) of sum(VJP * directions): second derivatives, zeros where none."""
    leaves, cots, grads = first_order(fn, args, which, cotangents, create_graph=True)
    wrt = [leaves[i] for i in which] + [c for c in cots if c.is_floating_point()]
    terms = [(g * w).sum() for g, w in zip(grads, directions) if g.requires_grad]
    if not terms:
        return tuple(torch.zeros_like(x) for x in wrt)
    second = torch.autograd.grad(sum(terms), wrt, allow_unused=True)
    return zeros_where_none(second, wrt)


ONCE_DIFFERENTIABLE_HINT = (
    " -- if this backward is not meant to be differentiated again (it treats saved results or intermediates as "
    "constants), decorate it with @torch.autograd.function.once_differentiable: a second derivative then raises "
    "instead of being silently wrong"
)


def check_double_backward(spec: FunctionSpec, **drawn: Any) -> Verdict | list[float]:
    """A wrong second derivative of an autograd.Function, with the fix for one that was never
    meant to have one (see :func:`_judge_double_backward` for the check)."""
    try:
        return _judge_double_backward(spec, **drawn)
    except AssertionError as exc:
        if spec.function_class is None or not spec.claims_double_backward or "second derivative" not in str(exc):
            raise
        if isinstance(exc, ToleranceError):
            raise ToleranceError(f"{exc}{ONCE_DIFFERENTIABLE_HINT}", failing=exc.failing, got=exc.got, truth=exc.truth, allowed=exc.allowed) from None
        raise AssertionError(f"{exc}{ONCE_DIFFERENTIABLE_HINT}") from None


def _judge_double_backward(
    spec: FunctionSpec,
    *,
    args: tuple[Any, ...],
    cotangents: tuple[torch.Tensor, ...],
    directions: tuple[torch.Tensor, ...],
    probes: tuple[torch.Tensor, ...],
) -> Verdict | list[float]:
    """``directions`` weight the VJP (shaped like the inputs); ``probes`` move (inputs, cotangents)."""
    which = spec.differentiable(args)
    if not which:
        return []
    if not spec.claims_double_backward:
        # once_differentiable's error node hangs off the VJP, unconnected to its inputs, so
        # autograd.grad with respect to them never reaches it: run backward over the whole graph.
        _, _, grads = first_order(spec.function, args, which, cotangents, create_graph=True)
        terms = [(g * w).sum() for g, w in zip(grads, directions) if g.requires_grad]
        try:
            if terms:
                sum(terms).backward()
        except RuntimeError:
            return Verdict(notes=(f"{NOT_CLAIMED}: once_differentiable, and double backward raised as it must",))
        raise AssertionError(f"{spec.name}: backward is once_differentiable, yet double backward did not raise")
    try:
        got = second_order(spec.function, args, which, cotangents, directions)
    except (RuntimeError, NotImplementedError) as exc:
        if spec.custom_op is None:
            raise
        # register_autograd has no once_differentiable: a custom op says "first order only" by
        # computing its backward with an op of its own that registers no autograd, which raises.
        reason = first_line(exc) or type(exc).__name__
        return Verdict(notes=(f"{NOT_CLAIMED}: the custom op's backward is not differentiable, and double backward raised ({reason})",))
    n_args = len(args)
    everything = tuple(args) + tuple(cotangents)
    # Integer outputs' cotangents are placeholders: there is no derivative with respect to them.
    wrt = tuple(which) + tuple(n_args + k for k, c in enumerate(cotangents) if c.is_floating_point())
    float64_cell = args[which[0]].dtype == torch.float64
    notes = []
    try:
        native = second_order(spec.reference, args, which, cotangents, directions)
        truth = second_order(spec.reference, float64_args(args), which, float64_args(cotangents), float64_args(directions))
        sized_by = spec.reference
    except (RuntimeError, NotImplementedError) as exc:
        # The reference cannot judge at all: finite differences of the Function's VJP do (float64),
        # and the Function's own float64 second derivatives (the other dtypes).
        reason = first_line(exc) or type(exc).__name__
        native = truth = None
        sized_by = spec.function
        notes.append(f"the reference has no double backward ({reason}): judged by finite differences of the Function's VJP"
                     + ("" if float64_cell else " and the Function's own float64 second derivatives"))
    sizes = jacobian_magnitudes(
        vjp_map(sized_by, n_args, which), everything, wrt, cotangents=directions,
        tangents=probes if spec.claims_forward_ad else None,
    )
    magnitudes = sizes.vjp
    own64 = None
    margins = []
    for k, (position, g, m) in enumerate(zip(wrt, got, magnitudes)):
        tolerance = spec.tolerance(everything[position].dtype)
        what = (
            f"{spec.name} second derivative w.r.t. argument {position}"
            if position < n_args
            else f"{spec.name} second derivative w.r.t. cotangent {position - n_args}"
        )
        if truth is not None:
            comparison = kinks.judged_at_kinks(
                functools.partial(assert_matches_truth, g, native[k], truth[k], m, tolerance=tolerance, what=what, reference_may_fail=True),
                spec, lambda a64, k=k: second_order(spec.reference, a64, which, float64_cpu_args(cotangents), float64_cpu_args(directions))[k],
                args, which, what=what, notes=notes,
            )
            if comparison is None:
                continue
            margins.append(comparison.margin)
            mask = comparison.unjudged
            if comparison.unjudged_count:
                notes.append(f"the reference could not judge {comparison.unjudged_count} elements of the {what.removeprefix(spec.name + ' ')} "
                             "(NaN or inf in float64): judged by finite differences of the Function's VJP"
                             + ("" if float64_cell else " and its own float64 second derivatives"))
        else:
            mask = torch.ones(g.shape, dtype=torch.bool)
        if not float64_cell and mask is not None and bool(mask.any()):
            if own64 is None:
                own64 = second_order(spec.function, float64_args(args), which, float64_args(cotangents), float64_args(directions))
            margins.append(compare_with_own_float64(g, own64[k], m, mask, tolerance=tolerance, what=f"{what}, against the Function's own float64 value"))
    if float64_cell:
        # the same second derivatives at the moved point
        analytic_at = _at_moved_point(
            args, cotangents, wrt, probes, lambda a, c: second_order(spec.function, a, which, c, directions), weights=probes
        )
        result = finite_difference_slope(
            vjp_map(spec.function, n_args, which), everything, wrt, directions, probes, _dot(got, probes),
            grad_mode=True, sensitivities=magnitudes, analytic_at=analytic_at,
        )
        margins.append(result.check(f"{spec.name}: double backward (second derivatives of the VJP)"))
    if spec.claims_forward_ad:
        margins += _check_forward_over_reverse(spec, args, which, cotangents, directions, probes, sizes, notes)
    return Verdict(tuple(margins), tuple(notes))


def forward_over_reverse(fn, args, which, cotangents, tangents) -> tuple[torch.Tensor, ...]:
    """The tangent of the VJP along ``tangents`` (for args[which], then the floating cotangents),
    by forward-mode AD through backward: what ``torch.func.jacfwd(jacrev(f))`` (hessian) runs."""
    with fwAD.dual_level():
        leaves = list(args)
        for i, t in zip(which, tangents):
            leaves[i] = fwAD.make_dual(args[i].detach().clone().requires_grad_(True), t)
        rest = iter(tangents[len(which):])
        cots = [fwAD.make_dual(c, next(rest)) if c.is_floating_point() else c for c in cotangents]
        outs = as_outputs(fn(*leaves))
        grads = zeros_where_none(grads_of(outs, [leaves[i] for i in which], cots, create_graph=True), [leaves[i] for i in which])
        tangent_of = [fwAD.unpack_dual(g).tangent for g in grads]
        return tuple(torch.zeros_like(g) if t is None else t.detach() for g, t in zip(grads, tangent_of))


def _moved(args, cotangents, wrt, probes, t: float) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(args, cotangents) with the positions ``wrt`` of their concatenation moved by ``t * probes``."""
    moved = list(args) + list(cotangents)
    for position, p in zip(wrt, probes):
        moved[position] = moved[position] + t * p
    return tuple(moved[: len(args)]), tuple(moved[len(args):])


def _dot(xs, ys) -> float:
    return sum(float((x * y).sum()) for x, y in zip(xs, ys))


def _at_moved_point(args, cotangents, wrt, probes, derivative, *, weights):
    """``t -> <derivative(args, cotangents moved by t * probes), weights>``: the analytic side of
    the finite-difference check recomputed at the point a step moved to."""

    def analytic_at(t: float) -> float:
        return _dot(derivative(*_moved(args, cotangents, wrt, probes, t)), weights)

    return analytic_at


def _check_forward_over_reverse(spec, args, which, cotangents, directions, probes, sizes, notes) -> list[float]:
    """A Function claiming a jvp and double backward: the jvp of its VJP (gradcheck's
    check_fwd_over_rev) matches the reference's and, in float64, finite differences of the VJP."""
    what = f"{spec.name}: forward-mode AD through backward (fwd-over-rev, as torch.func.hessian runs it)"
    try:
        got = forward_over_reverse(spec.function, args, which, cotangents, probes)
    except (RuntimeError, NotImplementedError) as exc:
        raise AssertionError(f"{what} raised, though the Function claims a jvp and double backward: {type(exc).__name__}: {exc}") from exc
    float64_cell = args[which[0]].dtype == torch.float64
    margins = []
    try:
        native = forward_over_reverse(spec.reference, args, which, cotangents, probes)
        truth = forward_over_reverse(spec.reference, float64_args(args), which, float64_args(cotangents), float64_args(probes))
    except (RuntimeError, NotImplementedError) as exc:
        reason = first_line(exc) or type(exc).__name__
        notes.append(f"the reference has no forward mode through its backward ({reason}): fwd-over-rev judged by finite differences"
                     + ("" if float64_cell else " and the Function's own float64 value"))
        native = None
    for k, (i, g) in enumerate(zip(which, got)):
        tolerance = spec.tolerance(args[i].dtype)
        label = f"{spec.name} fwd-over-rev tangent of the gradient of argument {i}"
        if native is not None:
            comparison = kinks.judged_at_kinks(
                functools.partial(assert_matches_truth, g, native[k], truth[k], sizes.jvp[k], tolerance=tolerance, what=label, reference_may_fail=True),
                spec, lambda a64, k=k: forward_over_reverse(spec.reference, a64, which, float64_cpu_args(cotangents), float64_cpu_args(probes))[k],
                args, which, what=label, notes=notes,
            )
            if comparison is not None:
                margins.append(comparison.margin)
        elif not float64_cell:
            own = forward_over_reverse(spec.function, float64_args(args), which, float64_args(cotangents), float64_args(probes))
            margins.append(compare_with_own_float64(g, own[k], sizes.jvp[k], torch.ones(g.shape, dtype=torch.bool), tolerance=tolerance,
                                                    what=f"{label}, against the Function's own float64 value"))
    if float64_cell:
        wrt = tuple(which) + tuple(len(args) + k for k, c in enumerate(cotangents) if c.is_floating_point())
        # the same tangent at the moved point
        analytic_at = _at_moved_point(
            args, cotangents, wrt, probes, lambda a, c: forward_over_reverse(spec.function, a, which, c, probes), weights=directions
        )
        result = finite_difference_slope(
            vjp_map(spec.function, len(args), which), tuple(args) + tuple(cotangents), wrt,
            directions, probes, _dot(directions, got), grad_mode=True, sensitivities=sizes.vjp, analytic_at=analytic_at,
        )
        margins.append(result.check(what))
    return margins


def _draw(cell: Cell, data: st.DataObject) -> dict[str, Any]:
    args = draw_args(cell, data)
    cotangents = draw_cotangents(cell, data, args)
    inputs = tuple(args[i] for i in cell.spec.differentiable(args))
    directions = draw_like(data, inputs, label="directions")
    probes = draw_like(data, inputs + tuple(c for c in cotangents if c.is_floating_point()), label="probes")
    return {"args": args, "cotangents": cotangents, "directions": directions, "probes": probes}


PROPERTY = Property(
    name="double_backward",
    summary="second derivatives of the VJP, with respect to the inputs and the cotangent, match the reference "
    "and finite differences of the VJP; a once_differentiable backward must raise; with a jvp too, forward mode "
    "through backward (fwd-over-rev) matches the reference and finite differences",
    check=check_double_backward,
    draw=_draw,
    dtypes="full-precision: second derivatives through float16/bfloat16 saved values are dominated by "
    "their rounding (native softmax's own bfloat16 second derivative is 40% off the float64 truth)",
    strict_first=True,
)
