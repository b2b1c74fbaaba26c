"""Property 'double_backward': gradients of the VJP (create_graph=True).

With respect to the inputs and to the cotangent, the second-order gradients must match the
reference's and, in float64, finite differences of the Function's own VJP.  This is what catches
a backward that detaches its saved tensors (second derivatives silently zero) and a Function
that saves an intermediate that is neither input nor output (silently wrong).  A backward marked
``once_differentiable`` must raise when differentiated.
"""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import given
from hypothesis import strategies as st

from funcs.spec import FunctionSpec
from properties.case import autograd_property, draw_args, draw_cotangents, draw_like
from properties.harness import as_outputs, differentiable_indices, float64_args, with_grad
from properties.oracles import assert_matches_truth, finite_difference_slope, jacobian_magnitudes

ONCE_DIFFERENTIABLE_ERROR = "marked with @once_differentiable"


def _differentiable(x):
    return x if x.requires_grad else x.detach().requires_grad_(True)


def first_order(fn, args: tuple[Any, ...], which, cotangents, *, create_graph: bool, fresh: bool = True):
    """(leaves, cotangent leaves, VJP): the VJP as a differentiable function of both.

    ``fresh=False`` keeps the given tensors (so an outer autograd, such as the oracle's Jacobian,
    sees through the VJP); ``fresh=True`` starts from new leaves.
    """
    if fresh:
        leaves = with_grad(args, which)
        cots = tuple(c.detach().clone().requires_grad_(True) for c in cotangents)
    else:
        leaves = tuple(_differentiable(a) if i in which else a for i, a in enumerate(args))
        cots = tuple(_differentiable(c) for c in cotangents)
    outs = as_outputs(fn(*leaves))
    pairs = [(o, c) for o, c in zip(outs, cots) if o.requires_grad]
    inputs = [leaves[i] for i in which]
    if not pairs:
        return leaves, cots, tuple(torch.zeros_like(x) for x in inputs)
    grads = torch.autograd.grad(
        [o for o, _ in pairs], inputs, [c for _, c in pairs], create_graph=create_graph, allow_unused=True
    )
    return leaves, cots, tuple(torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs))


def second_order(fn, args, which, cotangents, directions) -> tuple[torch.Tensor, ...]:
    """d/d(inputs, cotangents) of sum(VJP * directions): second derivatives, zeros where none."""
    leaves, cots, grads = first_order(fn, args, which, cotangents, create_graph=True)
    wrt = [leaves[i] for i in which] + list(cots)
    terms = [(g * w).sum() for g, w in zip(grads, directions) if g.requires_grad]
    if not terms:
        return tuple(torch.zeros_like(x) for x in wrt)
    second = torch.autograd.grad(sum(terms), wrt, allow_unused=True)
    return tuple(torch.zeros_like(x) if s is None else s for s, x in zip(second, wrt))


def vjp_map(fn, n_args: int, which):
    """The VJP as a plain function of (args..., cotangents...), for the oracles."""

    def call(*args_and_cots):
        args, cots = args_and_cots[:n_args], args_and_cots[n_args:]
        with torch.enable_grad():
            return first_order(fn, args, which, cots, create_graph=True, fresh=False)[2]

    return call


def check_double_backward(
    spec: FunctionSpec,
    *,
    args: tuple[Any, ...],
    cotangents: tuple[torch.Tensor, ...],
    directions: tuple[torch.Tensor, ...],
    probes: tuple[torch.Tensor, ...],
) -> list[float]:
    """``directions`` weight the VJP (shaped like the inputs); ``probes`` move (inputs, cotangents)."""
    which = differentiable_indices(args)
    if not which:
        return []
    if not spec.claims_double_backward:
        try:
            second_order(spec.function, args, which, cotangents, directions)
        except RuntimeError as exc:
            if ONCE_DIFFERENTIABLE_ERROR in str(exc):
                return []
            raise
        raise AssertionError(f"{spec.name}: backward is once_differentiable, yet double backward did not raise")
    got = second_order(spec.function, args, which, cotangents, directions)
    native = second_order(spec.reference, args, which, cotangents, directions)
    truth = second_order(spec.reference, float64_args(args), which, float64_args(cotangents), float64_args(directions))
    n_args = len(args)
    everything = tuple(args) + tuple(cotangents)
    wrt = tuple(which) + tuple(range(n_args, n_args + len(cotangents)))
    magnitudes = jacobian_magnitudes(vjp_map(spec.reference, n_args, which), everything, wrt, cotangents=directions).vjp
    margins = []
    for position, g, n, t, m in zip(wrt, got, native, truth, magnitudes):
        tolerance = spec.tolerance(everything[position].dtype)
        what = (
            f"{spec.name} second derivative w.r.t. argument {position}"
            if position < n_args
            else f"{spec.name} second derivative w.r.t. cotangent {position - n_args}"
        )
        margins.append(assert_matches_truth(g, n, t, m, tolerance=tolerance, what=what).margin)
    if args[which[0]].dtype == torch.float64:
        analytic = sum(float((s * p).sum()) for s, p in zip(got, probes))
        result = finite_difference_slope(
            vjp_map(spec.function, n_args, which), everything, wrt, directions, probes, analytic,
            grad_mode=True, sensitivities=magnitudes,
        )
        margins.append(result.check(f"{spec.name}: double backward (second derivatives of the VJP)"))
    return margins


@autograd_property(
    "double_backward",
    dtypes="full-precision: second derivatives through float16/bfloat16 saved values are dominated by "
    "their rounding (native softmax's own bfloat16 second derivative is 40% off the float64 truth)",
)
@given(data=st.data())
def test_double_backward(case, data):
    args = draw_args(case, data)
    cotangents = draw_cotangents(case, data, args)
    inputs = tuple(args[i] for i in differentiable_indices(args))
    directions = draw_like(data, inputs, label="directions")
    probes = draw_like(data, inputs + cotangents, label="probes")
    with case.reproduce(
        "properties.test_double_backward:check_double_backward",
        args=args, cotangents=cotangents, directions=directions, probes=probes,
    ):
        margins = check_double_backward(case.spec, args=args, cotangents=cotangents, directions=directions, probes=probes)
    if not case.spec.claims_double_backward:
        case.note("once_differentiable: double backward raised as it must")
    case.record(*margins)
