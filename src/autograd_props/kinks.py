"""Non-differentiable points: is a gradient that differs from the reference's a convention there?

Also the other way round: where the reference's own derivative is neither one-sided derivative of
its forward (autograd's convention inside a ``clamp`` at its bound can give a value no side
has: sparsemax's boundary), and the Function's is one, the evidence is against the reference.

At a kink (relu at 0, abs at 0, a clamp's bounds) the derivative is a choice: native autograd
picks one, and a Function may pick the other one-sided derivative.  Where a gradient element fails
the native oracle, the reference's one-sided derivatives along that element are estimated by
one-sided finite differences in float64.  If they differ (a kink) and the Function's value is one
of them, the failure is a convention difference, not a wrong value: by default it still fails
(a drop-in replacement should match native), named as such; a spec with
``kinks="any-one-sided"`` accepts it.

A finite step sees the nearest kink only when no other lies within it: a sort's tie at 0 next to
an element at -1.2e-38 (float32's smallest normal) is crossed by any step, and the differences
give the derivative past both.  Where the Function's value is neither difference, the one-sided
derivatives are taken again as the reference's own gradient a few ulps either side of the element
(``beside_the_point``): the limits the differences approximate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from autograd_props.harness import as_outputs, float64_cpu_args, vjp
from autograd_props.oracles import ToleranceError

__all__ = ["KinkCall", "beside_the_point", "classify", "describe", "judged_at_kinks", "one_sided_convention", "one_sided_derivatives"]

STEP = 1e-6  # relative to max(1, |x|); one-sided second-order differences are exact on linear pieces
BESIDE_ULPS = 4  # how far beside the point the reference's gradient is taken: off it, closer than any other kink
MAX_ELEMENTS = 16  # failing elements examined per comparison (a failure path only)


@dataclasses.dataclass(frozen=True)
class KinkCall:
    """One failing element: where it is, its input value, the two one-sided derivatives, the call."""

    index: tuple[int, ...]
    x: float
    left: float
    right: float
    reference: float
    got: float
    one_sided: bool  # the Function took one of the one-sided derivatives at a real kink
    reference_off: bool  # the Function's value is a one-sided derivative and the reference's is neither


def one_sided_derivatives(
    reference: Callable[..., Any], args: Sequence[Any], position: int, flat: int, cotangents: Sequence[torch.Tensor]
) -> tuple[float, float]:
    """(left, right) derivatives of ``u . reference(args)`` along element ``flat`` of ``args[position]``."""
    args64 = list(float64_cpu_args(args))
    us = [c.detach().to("cpu", torch.float64) for c in cotangents]
    base = args64[position]
    h = STEP * max(1.0, abs(float(base.reshape(-1)[flat])))

    def outputs(t: float) -> list[torch.Tensor]:
        moved = base.clone()
        moved.reshape(-1)[flat] += t
        args64[position] = moved
        with torch.no_grad():
            return as_outputs(reference(*args64), what="reference")

    at_x = outputs(0.0)

    def change(t: float) -> float:
        # u . (f(x + t e) - f(x)) output by output: outputs the step does not move cancel exactly,
        # where summing u . f first would leave their rounding (1e-12 of a sum near 1e4) in every
        # difference, 1e-6 once divided by the step: enough to miss a one-sided derivative.
        return sum(float((u * (o - o0)).sum()) for u, o, o0 in zip(us, outputs(t), at_x))

    d1, d2, dm1, dm2 = (change(t) for t in (h, 2 * h, -h, -2 * h))
    right = (4 * d1 - d2) / (2 * h)
    left = (-4 * dm1 + dm2) / (2 * h)
    return left, right


def beside_the_point(
    reference: Callable[..., Any], args: Sequence[Any], position: int, flat: int, cotangents: Sequence[torch.Tensor]
) -> tuple[float, float]:
    """(left, right): the reference's float64 gradient of ``u . reference(args)`` at element ``flat``
    of ``args[position]`` moved BESIDE_ULPS ulps down, and up."""
    args64 = list(float64_cpu_args(args))
    us = tuple(c.detach().to("cpu", torch.float64) for c in cotangents)
    x = args64[position].reshape(-1)[flat]
    sides = []
    for toward in (-torch.inf, torch.inf):
        moved_x = x
        for _ in range(BESIDE_ULPS):
            moved_x = torch.nextafter(moved_x, torch.tensor(toward, dtype=torch.float64))
        moved = args64[position].clone()
        moved.reshape(-1)[flat] = moved_x
        _, (grad,) = vjp(reference, [*args64[:position], moved, *args64[position + 1 :]], (position,), us, what="reference")
        sides.append(float(grad.reshape(-1)[flat]))
    return sides[0], sides[1]


def classify(
    reference: Callable[..., Any],
    args: Sequence[Any],
    position: int,
    cotangents: Sequence[torch.Tensor],
    failing: torch.Tensor,
    got: torch.Tensor,
    truth: torch.Tensor,
    allowed: torch.Tensor,
) -> list[KinkCall]:
    """The failing elements of the gradient of ``args[position]`` (at most MAX_ELEMENTS), each
    with its one-sided derivatives and whether the Function's value is one of them."""
    calls = []
    for flat in failing.reshape(-1).nonzero().reshape(-1)[:MAX_ELEMENTS].tolist():
        left, right = one_sided_derivatives(reference, args, position, flat, cotangents)
        g, t, a = (float(v.reshape(-1)[flat]) for v in (got, truth, allowed))
        jump, takes_a_side, reference_off = _sides(left, right, g, t, a)
        if not (jump and takes_a_side):  # another kink within the step? the limits, from the reference's own gradient
            try:
                beside = beside_the_point(reference, args, position, flat, cotangents)
            except RuntimeError:  # the reference cannot be differentiated there: the differences stand
                beside = (float("nan"), float("nan"))
            beside_jump, beside_taken, _ = _sides(*beside, g, t, a)
            if all(map(np.isfinite, beside)) and beside_jump and beside_taken:
                # reference_off keeps the differences' verdict: sides from the reference's own gradient
                # are no evidence against it
                (left, right), jump, takes_a_side = beside, True, True
        index = tuple(int(i) for i in np.unravel_index(flat, tuple(got.shape))) if got.dim() else ()
        x = float(args[position].detach().reshape(-1)[flat].double())
        calls.append(KinkCall(index, x, left, right, t, g, jump and takes_a_side, reference_off))
    return calls


def _sides(left: float, right: float, got: float, truth: float, allowed: float) -> tuple[bool, bool, bool]:
    """(a kink: left and right differ; the Function's value is one of them; it is and the reference's is neither)."""
    # The derivatives' own size, with no floor: along a cotangent of 1e-5 a slope's jump of 1 is a
    # jump of 1e-5 (a floor of 1 read it as none); the differences' rounding is relative to it too.
    scale = abs(left) + abs(right) + abs(got)
    close = lambda value, side: abs(value - side) <= max(allowed, 1e-6 * scale)
    takes_a_side = close(got, left) or close(got, right)
    return abs(left - right) > 1e-4 * scale, takes_a_side, takes_a_side and not (close(truth, left) or close(truth, right))


def one_sided_convention(
    spec: Any, exc: Any, quantity: Callable[[tuple[Any, ...]], torch.Tensor], args: Sequence[Any], positions: Sequence[int],
    *, what: str,
) -> str:
    """For a spec with ``kinks="any-one-sided"``: a note saying the failing elements of ``exc`` (a
    ToleranceError) take one-sided limits of the reference at kinks of its formula, if every one
    does; "" otherwise (the failure stands).

    ``quantity(args64)`` is the compared value computed from the reference in float64 (a second
    derivative, a tangent, a Jacobian block).  Its limits are taken with every element of
    ``args[positions]`` moved BESIDE_ULPS ulps down, and up: off the point, closer than any other
    kink.  An element is a convention where the Function's value is one limit and either the limits
    differ (relu's slope at 0 on the cotangent's side) or the reference's value at the point is
    neither (softplus as clamp(min=0) + log1p(exp(-|x|)): its second derivative at 0 is autograd's
    0 between limits of 0.25).  Property checks other than vjp_native use this; vjp_native has the
    finer one-sided differences of the forward (``classify``).
    """
    if spec.kinks != "any-one-sided":
        return ""
    args64 = float64_cpu_args(args)
    limits = []
    try:
        for toward in (-torch.inf, torch.inf):
            moved = list(args64)
            for p in positions:
                if isinstance(moved[p], torch.Tensor) and moved[p].is_floating_point():
                    for _ in range(BESIDE_ULPS):
                        moved[p] = torch.nextafter(moved[p], torch.full_like(moved[p], toward))
            limits.append(quantity(tuple(moved)).detach().to("cpu", torch.float64))
    except (RuntimeError, NotImplementedError):  # the reference cannot be evaluated beside the point
        return ""
    left, right = limits
    if left.shape != exc.got.shape:
        return ""
    failing = exc.failing
    g, t, a, lo, hi = (v[failing] for v in (exc.got, exc.truth, exc.allowed, left, right))
    # The limits are the reference's own float64 values, not differences: apart from rounding, the
    # comparison's own tolerance tells two values apart (a jump of 1e-6 on a direction of 1e-6 is one).
    near = a.maximum(1e-9 * (lo.abs() + hi.abs() + g.abs()))
    close = lambda value, side: (value - side).abs() <= near
    takes_a_side = close(g, lo) | close(g, hi)
    jump = ~close(lo, hi)
    reference_off = ~(close(t, lo) | close(t, hi))
    accepted = takes_a_side & (jump | reference_off) & torch.isfinite(lo) & torch.isfinite(hi)
    if not bool(accepted.all()):
        return ""
    return (f"{what}: elements at non-differentiable points of the reference's formula took one of its one-sided "
            "limits there (kinks='any-one-sided')")


def judged_at_kinks(
    compare: Callable[[], Any], spec: Any, beside: Callable[[tuple[Any, ...]], torch.Tensor], args: Sequence[Any],
    positions: Sequence[int], *, what: str, notes: list[str],
) -> Any:
    """``compare()``'s result; None, with the note added to ``notes``, where it fails only at
    elements whose values are one-sided limits of the reference (:func:`one_sided_convention`,
    ``beside`` its ``quantity``)."""
    try:
        return compare()
    except ToleranceError as exc:
        convention = one_sided_convention(spec, exc, beside, args, positions, what=what)
        if not convention:
            raise
        notes.append(convention)
        return None


def describe(calls: Sequence[KinkCall]) -> str:
    """A sentence for a failure message about the elements at kinks."""
    kinks = [c for c in calls if c.one_sided]
    if not kinks:
        return ""
    c = kinks[0]
    return (
        f"; {len(kinks)} of the failing elements are at a non-differentiable point, where the Function took the "
        f"other one-sided derivative: at index {c.index} (x = {c.x!r}) the left derivative is {c.left:.6g} and the "
        f"right {c.right:.6g}, the reference takes {c.reference:.6g} and the Function {c.got:.6g}. A convention "
        f"difference, not a wrong value: kinks='any-one-sided' in the spec accepts it"
    )
