"""The two oracles: the native reference under autograd, and finite differences in float64.

Native oracle.  Every dtype is judged against float64 truth (the reference run on the same
inputs upcast to float64, which is exact).  The custom result may be no worse than the native
reference's own error at that dtype plus a stated slack:

    |custom - truth| <= native allowance + atol + rtol*|truth| + ROUNDING_ULPS * eps * magnitude

The native allowance is native's error measured over the whole tensor relative to each
element's magnitude, not at the element alone (see :func:`native_allowance`): native is
sometimes lucky at one element, and a correct Function must not fail for native's luck.

``(rtol, atol)`` are torch.testing's defaults for the dtype (or the spec's override).
``magnitude`` is what the value is a sum of: ``|J| |x|`` for a forward value and ``|J|^T |u|``
for a vector-Jacobian product, from the float64 reference's Jacobian.  It is why a result that
cancels (``sum(g * x)`` near zero) is not held to a relative tolerance of its tiny value while
its rounding error is set by its large terms.

Finite-difference oracle.  Along a direction ``v`` and cotangent ``u`` drawn by Hypothesis, the
slope of ``phi(t) = u . f(x + t v)`` is estimated by central differences at steps h and 2h and
Richardson-extrapolated; it must equal ``(J^T u) . v`` from the Function's backward.  The
tolerance comes from the step: the two estimates' disagreement bounds the truncation error, and
float64 rounding of ``phi`` over the step bounds the rest.  A disagreement far beyond smooth
truncation means a kink or jump within 2h of the sample; such points are left to the native
oracle instead of being reported.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from autograd_props import strict_first
from autograd_props.harness import as_outputs, float64_args, float64_cpu_args
from autograd_props.rounding_noise import rounding_noise

__all__ = [
    "Comparison",
    "ToleranceError",
    "native_allowance",
    "assert_same_result",
    "FiniteDifferenceResult",
    "assert_matches_truth",
    "finite_difference_slope",
    "Magnitudes",
    "jacobian_magnitudes",
    "BeyondOracle",
    "DENSE_JACOBIAN_LIMIT",
]

ROUNDING_ULPS = 8.0
# (Input + output elements)^2, which bounds the dense Jacobian's entries and its coupling
# matrices' (32 MiB of float64), above which magnitudes are propagated instead: far above the
# default strategies' tensors (a few hundred elements), far below a million squared.
DENSE_JACOBIAN_LIMIT = 2**22
# Native's error may be exceeded this many times in 16-bit dtypes (see native_allowance).
LOW_PRECISION_FACTOR = {torch.float16: 4.0, torch.bfloat16: 4.0}
FD_STEP = 1e-4
# Smooth truncation at FD_STEP is ~h^2 |phi'''| ~ 1e-8 of the slope; a kink gives O(1).
NONSMOOTH_RATIO = 1e-3
FD_ROUNDING_ULPS = 64.0
# A smooth slope changes by about h |phi''| across a step, 1e-4 of its size for derivatives of
# order one; a change of a tenth means it varies on a scale below the step.
STEP_SCALE_CHANGE = 0.1
# Measured rounding noise (max over a few Monte Carlo runs) to a bound: the Richardson slope
# amplifies phi's errors by 1.5 / h, and a run's spread understates the worst rounding.
FD_NOISE_FACTOR = 16.0


@dataclasses.dataclass(frozen=True)
class Comparison:
    what: str
    margin: float  # worst |custom - truth| / allowed; above 1 fails
    # Elements the reference could not judge: its float64 truth is NaN or +-inf where the
    # Function's value is finite.  Only reported when the caller asked (``reference_may_fail``).
    unjudged: torch.Tensor | None = None

    @property
    def unjudged_count(self) -> int:
        return 0 if self.unjudged is None else int(self.unjudged.sum())


class ToleranceError(AssertionError):
    """A value out of tolerance; ``failing`` marks the elements, for callers that explain more."""

    def __init__(self, message: str, *, failing: torch.Tensor, got: torch.Tensor, truth: torch.Tensor, allowed: torch.Tensor):
        super().__init__(message)
        self.failing, self.got, self.truth, self.allowed = failing, got, truth, allowed


def _fmt_index(flat: int, shape: torch.Size) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, tuple(shape))) if len(shape) else ()


def finite_elements(x: torch.Tensor) -> torch.Tensor:
    """``torch.isfinite`` for the real tensors compared here (|x| < inf is False for NaN and
    +-inf), at a quarter of its cost: on one CPU thread isfinite takes 12 ms at 10^6 float64
    elements, |x| < inf 3 ms."""
    return x.abs() < math.inf


def overflow_threshold(dtype: torch.dtype) -> float:
    """The smallest magnitude that rounds to infinity in ``dtype`` (round to nearest): its largest
    value plus half a unit in its last place there."""
    info = torch.finfo(dtype)
    return info.max + 2.0 ** math.floor(math.log2(info.max)) * info.eps / 2


def correctly_rounded_overflow(g: torch.Tensor, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Where ``g`` is the infinity of ``t``'s sign and ``t`` (float64) is past ``dtype``'s range."""
    return torch.isinf(g).logical_and_(t.abs() >= overflow_threshold(dtype)).logical_and_(torch.sign(g) == torch.sign(t))


def native_error_of(n: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """|native - truth| in float64, 0 where native is not finite (there native must be matched
    exactly instead), finished in place."""
    return (n - t).abs_().masked_fill_(finite_elements(n).logical_not_(), 0.0).nan_to_num_(nan=0.0)


def native_relative_error(native_error: torch.Tensor, magnitude: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Native's worst error relative to the size of what each element is a sum of, over the
    elements whose magnitude is a normal number (see :func:`native_allowance`); a 0-d tensor."""
    if not native_error.numel():
        return native_error.new_zeros(())
    sized = (magnitude >= torch.finfo(dtype).tiny).logical_and_(finite_elements(native_error))
    # The ratios are >= 0, so the largest over the sized elements is the largest with 0 elsewhere
    # (and 0 where none is sized); the mask spares the boolean indexing's copies.
    return (native_error / magnitude).masked_fill_(sized.logical_not_(), 0.0).max()


def native_allowance(
    native_error: torch.Tensor,
    magnitude: torch.Tensor,
    dtype: torch.dtype,
    coupled: torch.Tensor | None = None,
    relative_elsewhere: float = 0.0,
) -> torch.Tensor:
    """What native's own error allows at each element.

    Not native's error at that element alone: native may be lucky there (its rounding happened
    to cancel), so the allowance is the largest of native's error at the element, native's worst
    error over the whole tensor relative to the size of what each element is a sum of
    (``magnitude``) scaled back by the element's magnitude, and native's worst error among the
    elements ``coupled`` with it (computed together: a row of a softmax or a layer norm shares
    its reductions, and with them their rounding, whatever the size of each element's own
    terms; a layer norm's x-gradient is a small difference of terms as large as the row's).  float16 and bfloat16 allow
    ``LOW_PRECISION_FACTOR`` times that: another, equally valid order of operations rounds
    differently, and at 8 or 11 bits one order is easily 1.5x worse than another at one element.
    In float64, native is the truth (error 0), so this allows nothing.  Elements whose magnitude
    is below the dtype's smallest normal number are left out of the worst relative error: there
    rounding is absolute (subnormals), and dividing by the tiny magnitude would inflate it.

    ``relative_elsewhere``: native's worst relative error at the same inputs for other cotangents
    (``vjp_native``): native may be lucky in the cotangent too.  Its layer norm backward is exact
    for a cotangent of ones whatever the row (its formula cancels structurally there), while on a
    row of tiny variance the textbook formula, and native for any other cotangent, round by
    hundreds of ulps of the magnitude (soak of the tenth session, docs/proving-the-gate.md).
    """
    relative = native_relative_error(native_error, magnitude, dtype).clamp_min(relative_elsewhere)
    allowance = torch.maximum(native_error, relative * magnitude)
    if coupled is not None and native_error.numel() > 1:
        flat = torch.where(finite_elements(native_error), native_error, 0.0).reshape(-1)
        neighbourhood = (coupled.to(flat.dtype) * flat[None, :]).amax(1).reshape(native_error.shape)
        allowance = torch.maximum(allowance, neighbourhood)
    return LOW_PRECISION_FACTOR.get(dtype, 1.0) * allowance


def _native_is_truth(n: torch.Tensor, t: torch.Tensor) -> bool:
    """Whether ``n`` and ``t`` are one tensor's values (float64 arguments: the same computation)."""
    return n.data_ptr() == t.data_ptr() and n.shape == t.shape and n.stride() == t.stride() and n.dtype == t.dtype


# Elements per block of _margin_where_native_is_the_truth: 512 KiB of float64, so a block's
# temporaries stay in cache.
BLOCK = 2**16


def _materialized(x: torch.Tensor) -> torch.Tensor:
    """``x``, or a real tensor of zeros where it is autograd's ZeroTensor (the derivative of a
    constant, as sgn's for real inputs): that has no storage, and the in-place arithmetic here
    would raise "ZeroTensors are immutable" on the suite's behalf, not the Function's."""
    return torch.zeros(x.shape, dtype=x.dtype) if x._is_zerotensor() else x


def _margin_where_native_is_the_truth(
    g: torch.Tensor, t: torch.Tensor, tolerance: tuple[float, float], *, reference_may_fail: bool
) -> tuple[float, torch.Tensor | None]:
    """:func:`assert_matches_truth`'s margin and unjudged elements when native is the float64
    truth and no magnitude is sized (the strict pass on float64 arguments).  Native's error is
    then 0, so native_allowance is 0, and the rounding term is 0: the allowance is exactly
    ``atol + rtol |truth|`` (adding a 0 changes no value).  Computed block by block, since at
    10^6 elements the general rule's dozens of passes over fresh tensors cost more than the
    Function itself; every element's ratio is the general rule's, bit for bit (a test compares).
    """
    rtol, atol = tolerance
    gs, ts = g.reshape(-1), t.reshape(-1)
    unjudged = torch.empty(t.shape, dtype=torch.bool) if reference_may_fail else None
    margin = 0.0
    for start in range(0, ts.numel(), BLOCK):
        gb, tb = gs[start:start + BLOCK], ts[start:start + BLOCK]
        abs_t = tb.abs()
        t_finite = abs_t < math.inf
        allowed = abs_t.masked_fill_(t_finite.logical_not(), 0.0).mul_(rtol).add_(atol)
        ratio = torch.sub(gb, tb).abs_().div_(allowed).nan_to_num_(nan=float("inf"))
        same = (gb == tb).logical_or_(torch.isnan(gb).logical_and_(torch.isnan(tb)))
        ratio.masked_fill_(same, 0.0)
        if unjudged is not None:
            block = t_finite.logical_not_().logical_and_(finite_elements(gb)).logical_and_(same.logical_not_())
            unjudged.view(-1)[start:start + BLOCK] = block
            ratio.masked_fill_(block, 0.0)
        margin = max(margin, float(ratio.max()))
    return margin, unjudged


def assert_matches_truth(
    got: torch.Tensor,
    native: torch.Tensor,
    truth: torch.Tensor,
    magnitude: torch.Tensor,
    *,
    tolerance: tuple[float, float],
    what: str,
    reference_may_fail: bool = False,
    coupled: torch.Tensor | None = None,
    relative_elsewhere: float = 0.0,
) -> Comparison:
    """Check got (custom, some dtype) against float64 truth, allowing native's error plus slack.

    ``reference_may_fail``: where the reference's float64 truth is NaN or +-inf but ``got`` is
    finite, the reference cannot judge (a derivative formula that overflows, 0 * inf in an
    unselected ``where`` branch); those elements are left out and returned as ``unjudged`` for
    the caller to judge another way.  Otherwise they fail, as any value does that differs from
    a non-finite truth.  ``coupled``: which elements are computed together (see
    :func:`native_allowance`), from :class:`Magnitudes`; ``relative_elsewhere``: see there.
    """
    if got.shape != native.shape:
        raise AssertionError(f"{what}: shape {tuple(got.shape)}, reference gives {tuple(native.shape)}")
    if got.dtype != native.dtype:
        raise AssertionError(f"{what}: dtype {got.dtype}, reference gives {native.dtype}")
    if got.device != native.device:
        raise AssertionError(f"{what}: device {got.device}, reference gives {native.device}")
    if got.numel() == 0:
        return Comparison(what, 0.0)
    rtol, atol = tolerance
    g, n, t = (_materialized(x.detach().to("cpu", torch.float64)) for x in (got, native, truth))
    if _native_is_truth(n, t) and coupled is None and not relative_elsewhere and not magnitude.any():
        margin, unjudged = _margin_where_native_is_the_truth(g, t, tolerance, reference_may_fail=reference_may_fail)
        if margin <= 1.0:
            return Comparison(what, margin, unjudged)
        if strict_first.strict():
            raise strict_first.NeedsMagnitudes(what)
        # A failure: the general rule below finds the same margin and says where, word for word.
    eps = torch.finfo(got.dtype).eps
    # A magnitude is NaN where the reference's Jacobian is infinite against a zero; count it as 0.
    magnitude = torch.nan_to_num(magnitude.to("cpu", torch.float64), nan=0.0)
    # Each fresh tensor below is finished in place: at 10^6 elements an allocation costs a pass.
    native_error = native_error_of(n, t)
    from_native = native_allowance(native_error, magnitude, got.dtype, coupled, relative_elsewhere)
    if coupled is not None and magnitude.numel() > 1:
        # Elements computed together share their reductions' rounding: the largest terms among
        # them set it, not each element's own (which cancellation may have made small).
        flat = magnitude.reshape(-1)
        magnitude = (coupled.to(flat.dtype) * flat[None, :]).amax(1).reshape(magnitude.shape).maximum(magnitude)
    allowed = (from_native + atol).add_(t.abs().nan_to_num_(nan=0.0, posinf=0.0).mul_(rtol)).add_(ROUNDING_ULPS * eps * magnitude)
    err = (g - t).abs_()
    ratio = (err / allowed).nan_to_num_(nan=float("inf"))
    # Exactly native's value is never worse than native (this covers NaN and inf where native has
    # them); where native is not finite but the truth is, the custom value may instead be right.
    same_as_native = (g == n).logical_or_(torch.isnan(g).logical_and_(torch.isnan(n))).logical_or_(g == t)
    if got.dtype != torch.float64 and not got.is_complex():
        # A truth past the dtype's largest value rounds to +-inf: there that is the exact answer,
        # not an infinite error (the old rule charged |inf - truth| even where native gave NaN).
        same_as_native.logical_or_(correctly_rounded_overflow(g, t, got.dtype))
    ratio.masked_fill_(same_as_native, 0.0)
    unjudged = None
    if reference_may_fail:
        unjudged = finite_elements(t).logical_not_().logical_and_(finite_elements(g)).logical_and_(same_as_native.logical_not())
        ratio.masked_fill_(unjudged, 0.0)
    margin = float(ratio.max())
    if margin > 1.0 and strict_first.strict():
        raise strict_first.NeedsMagnitudes(what)
    if margin > 1.0:
        worst = int(ratio.reshape(-1).argmax())
        index = _fmt_index(worst, got.shape)
        failing = ratio > 1.0
        e, ne = err.reshape(-1)[worst].item(), native_error.reshape(-1)[worst].item()
        loss = ""
        half = str(got.dtype).removeprefix("torch.")
        advice = ("Native computes 16-bit dtypes in float32 and rounds once at the end: a custom Function should too, "
                  "in forward and backward (x.to(torch.promote_types(x.dtype, torch.float32)), the result .to(x.dtype))")
        if got.dtype in LOW_PRECISION_FACTOR and ne > 0 and math.isfinite(e):
            loss = (
                f" -- a precision loss: {e / ne:.3g}x native's error {ne:.3g} at that element (the error against the "
                f"float64 truth over native's; {LOW_PRECISION_FACTOR[got.dtype]:g}x is allowed in {half}). {advice}"
            )
        elif got.dtype in LOW_PRECISION_FACTOR and math.isfinite(e) and not math.isfinite(n.reshape(-1)[worst].item()):
            loss = f" -- a precision loss in {half}; the reference gives no finite value here to compare errors with. {advice}"
        raise ToleranceError(
            f"{what}: {int(failing.sum())} of {got.numel()} elements out of tolerance; worst at index {index}: "
            f"expected {t.reshape(-1)[worst].item()!r} (float64 truth), native {n.reshape(-1)[worst].item()!r}, "
            f"got {g.reshape(-1)[worst].item()!r}; |got - truth| = {e:.3g} > allowed "
            f"{allowed.reshape(-1)[worst].item():.3g} (native's error, at most {from_native.reshape(-1)[worst].item():.3g} here "
            f"+ atol {atol:g} + rtol {rtol:g}*|truth| + {ROUNDING_ULPS:g} ulp * magnitude {magnitude.reshape(-1)[worst].item():.3g})"
            f"{loss}",
            failing=failing, got=g, truth=t, allowed=allowed,
        )
    return Comparison(what, margin, unjudged)


def assert_same_result(
    got: torch.Tensor, expected: torch.Tensor, magnitude: torch.Tensor, *, tolerance: tuple[float, float], what: str
) -> Comparison:
    """Two paths to one result in the same dtype (vmap vs loop, compiled vs eager, layouts).

    Integer and boolean results (indices, codes, masks) must be identical.
    """
    if not expected.is_floating_point():
        if got.dtype != expected.dtype or not torch.equal(got.detach().cpu(), expected.detach().cpu()):
            raise AssertionError(f"{what}: {got.dtype} {tuple(got.shape)} differs from {expected.dtype} "
                                 f"{tuple(expected.shape)} (a non-floating result must be identical)")
        return Comparison(what, 0.0)
    return assert_matches_truth(got, expected, expected.detach().to(torch.float64), magnitude, tolerance=tolerance, what=what)


@dataclasses.dataclass(frozen=True)
class Magnitudes:
    """What each result is a sum of, from the float64 reference's Jacobian J (see module doc)."""

    forward: tuple[torch.Tensor, ...]  # |f| + |J||x| per output
    vjp: tuple[torch.Tensor, ...]  # |J|^T |u| per differentiable input (when cotangents given)
    jvp: tuple[torch.Tensor, ...]  # |J| |v| per output (when tangents given)
    # Which elements are computed together: per input, (n, n) for input elements that reach a common
    # output; per output, outputs that depend on a common input.  None where there is no Jacobian.
    input_coupling: tuple[torch.Tensor | None, ...] = ()
    output_coupling: tuple[torch.Tensor | None, ...] = ()


def jacobian_magnitudes(
    reference: Callable[..., Any],
    args: Sequence[Any],
    which: Sequence[int],
    cotangents: Sequence[torch.Tensor] | None = None,
    tangents: Sequence[torch.Tensor] | None = None,
) -> Magnitudes:
    """Magnitudes of the forward values, the VJP for ``cotangents`` and the JVP for ``tangents``.

    Computed on the CPU in float64.  ``reference`` may itself use autograd (for second order).
    From the dense Jacobian while (input + output elements)^2 is at most DENSE_JACOBIAN_LIMIT
    (every tensor the default strategies draw); beyond, by propagating magnitudes op by op in O(n)
    (``magnitude_propagation.py``), which bounds the dense magnitudes from above and sees the
    shared reductions the dense coupling stands for, so no coupling is returned there.
    """
    args64 = float64_cpu_args(args)
    inputs = tuple(args64[i] for i in which)

    def of_inputs(*xs):
        full = list(args64)
        for i, x in zip(which, xs):
            full[i] = x
        return as_outputs(reference(*full), what="reference")

    with torch.enable_grad():
        outs = tuple(o.detach() for o in of_inputs(*inputs))
    if strict_first.strict():  # judged first without them: zeros, the tightest tolerance
        zero = torch.zeros((), dtype=torch.float64)  # expanded, read only: no memory, no pass at 10^6 elements
        return Magnitudes(tuple(zero.expand(o.shape) for o in outs), tuple(zero.expand(x.shape) for x in inputs),
                          tuple(zero.expand(o.shape) for o in outs))
    # The Jacobian is numel_in x numel_out, and the coupling matrices numel_in^2 and numel_out^2.
    if (sum(x.numel() for x in inputs) + sum(o.numel() for o in outs)) ** 2 > DENSE_JACOBIAN_LIMIT:
        return _propagated(reference, args, which, inputs, outs, cotangents, tangents)
    forward = [o.abs().to(torch.float64) for o in outs]  # integer outputs too (they have no Jacobian)
    vjp = [torch.zeros_like(x) for x in inputs]
    jvp = [torch.zeros_like(o) for o in outs]
    input_reach = [torch.zeros(0, x.numel()) for x in inputs]  # which outputs each input element reaches
    output_reach = [torch.zeros(o.numel(), 0) for o in outs]
    if inputs and all(x.numel() for x in inputs) and all(o.numel() for o in outs):
        try:
            jac = torch.autograd.functional.jacobian(of_inputs, inputs, vectorize=True, strategy="reverse-mode")
        except RuntimeError:  # a reference that vmap cannot batch (e.g. nested autograd)
            jac = torch.autograd.functional.jacobian(of_inputs, inputs)
        for k, out in enumerate(outs):
            for j, x in enumerate(inputs):
                block = jac[k][j].reshape(out.numel(), x.numel()).abs()
                reach = (block != 0).to(torch.float64)
                input_reach[j] = torch.cat([input_reach[j].to(torch.float64), reach])
                output_reach[k] = torch.cat([output_reach[k].to(torch.float64), reach], dim=1)
                forward[k] += (block @ x.reshape(-1).abs()).reshape(out.shape)
                if cotangents is not None:
                    u = cotangents[k].detach().to("cpu", torch.float64).reshape(-1).abs()
                    vjp[j] += (block.T @ u).reshape(x.shape)
                if tangents is not None:
                    v = tangents[j].detach().to("cpu", torch.float64).reshape(-1).abs()
                    jvp[k] += (block @ v).reshape(out.shape)
    return Magnitudes(
        tuple(forward),
        tuple(vjp),
        tuple(jvp),
        tuple((r.T @ r > 0) if r.numel() else None for r in input_reach),
        tuple((r @ r.T > 0) if r.numel() else None for r in output_reach),
    )


class BeyondOracle(Exception):
    """The example is beyond what the oracle can size; the property skips it, saying why."""


def _propagated(reference, args, which, inputs, outs, cotangents, tangents) -> Magnitudes:
    """:func:`jacobian_magnitudes` without the Jacobian (see ``magnitude_propagation.py``)."""
    from autograd_props.magnitude_propagation import propagated_magnitudes

    size = f"{sum(x.numel() for x in inputs)} input and {sum(o.numel() for o in outs)} output elements"
    found = propagated_magnitudes(reference, args, which, cotangents, tangents)
    if found.unsized:
        raise BeyondOracle(f"the reference uses ops the O(n) oracle cannot size ({', '.join(sorted(found.unsized))}) at {size}")
    vjp = found.vjp if cotangents is not None else tuple(torch.zeros_like(x) for x in inputs)
    jvp = found.jvp if tangents is not None else tuple(torch.zeros_like(o) for o in outs)
    return Magnitudes(found.forward, vjp, jvp)


@dataclasses.dataclass(frozen=True)
class FiniteDifferenceResult:
    estimate: float  # Richardson-extrapolated slope u . (J v)
    analytic: float  # (J^T u) . v from backward
    tolerance: float
    smooth: bool
    reason: str = ""

    def check(self, what: str) -> float:
        """The margin; an AssertionError naming ``what`` when the analytic value is out of tolerance."""
        if self.margin > 1.0:
            raise AssertionError(
                f"{what} disagrees with finite differences: {self.analytic!r} from autograd, "
                f"{self.estimate!r} by central differences (Richardson, step h); |difference| = "
                f"{abs(self.analytic - self.estimate):.3g} > tolerance {self.tolerance:.3g} "
                f"(from the truncation and float64 rounding at step h)"
            )
        return self.margin

    @property
    def margin(self) -> float:
        if not self.smooth:
            return 0.0
        error = abs(self.estimate - self.analytic)
        if error == 0:
            return 0.0
        if not (self.tolerance > 0 and math.isfinite(error)):  # never a NaN that compares as a pass
            return float("inf")
        return error / self.tolerance


def finite_difference_slope(
    function: Callable[..., Any],
    args: Sequence[Any],
    which: Sequence[int],
    cotangents: Sequence[torch.Tensor],
    directions: Sequence[torch.Tensor],
    analytic: float,
    *,
    sensitivities: Sequence[torch.Tensor],
    step: float = FD_STEP,
    grad_mode: bool = False,
    analytic_at: Callable[[float], float] | None = None,
) -> FiniteDifferenceResult:
    """Estimate u . (J v) for ``function`` in float64 and judge ``analytic`` against it.

    ``sensitivities`` are |J|^T |u| for each differentiated argument (the ``vjp`` of
    :func:`jacobian_magnitudes`), aligned with ``directions``.  They bound two float64 roundings
    the tolerance must allow: that of ``analytic``, a sum of terms as large as sensitivity x |v|
    which can cancel to zero, and that of the step: x + t v is rounded, so the displacement
    actually taken is not t v (by up to half an ulp of x, which is 1e-9 of a step of 1e-4 at
    |x| = 500).

    ``analytic_at(t)``: the analytic slope at ``x + t v``.  Differences over a step measure a
    slope only if it is nearly constant across the step; before a disagreement fails, the slope
    is taken at ``t = +-h``, and one that changes there by more than ``STEP_SCALE_CHANGE`` of its
    size (a second derivative like ``1 / |z|`` next to ``z = 0``, at a distance far below the
    step), or whose second difference ``a(h) + a(-h) - 2 a(0)`` is as large as the disagreement
    (``u z / |z|`` flipping sign as z crosses 0 within the step), leaves the point to the native
    oracle, as a kink does.
    """
    base = float64_args(args)
    us = [c.to(torch.float64) for c in cotangents]
    vs = [v.detach().to("cpu", torch.float64) for v in directions]
    if strict_first.strict():
        # Zero sensitivities (strict_first) make these terms 0: not computed.
        analytic_magnitude = step_error = gap_step_error = 0.0
    else:
        # An infinite or NaN sensitivity (the reference's Jacobian overflowed) says nothing about the
        # rounding: count it as 0, as the native oracle does, rather than let a NaN tolerance pass anything.
        sensitivities = [torch.nan_to_num(s.detach().to("cpu", torch.float64), nan=0.0, posinf=0.0) for s in sensitivities]
        analytic_magnitude = sum(float((s * v.abs()).sum()) for s, v in zip(sensitivities, vs))
        rounded_steps = [_step_rounding(base[i].detach().cpu(), v, step) for i, v in zip(which, vs)]
        step_error = sum(float((s * e).sum()) for s, (e, _) in zip(sensitivities, rounded_steps))
        gap_step_error = sum(float((s * e).sum()) for s, (_, e) in zip(sensitivities, rounded_steps))
    # t v for t = k h, k in (0, +-1, +-2), as k (h v): scaling by 0, +-1 or +-2 is exact, so each
    # moved point is one pass, bit for bit the x + t v it stands for.
    steps = [step * v.to(torch.float64) for v in directions]

    def phi(k: int, *, with_size: bool = True) -> tuple[float, float]:
        moved = list(base)
        for i, hv in zip(which, steps):
            moved[i] = torch.add(base[i], hv, alpha=k)
        with torch.set_grad_enabled(grad_mode):  # grad_mode: function itself differentiates
            outs = as_outputs(function(*moved))
        value = size = 0.0
        for u, o in zip(us, outs):
            terms = u * o.detach()
            value += float(terms.sum())
            if with_size:
                size += float(terms.abs_().sum())
        return value, size

    samples = tuple(phi(k) for k in (0, 1, -1, 2, -2))
    if not all(_finite(value) for value, _ in samples):
        return FiniteDifferenceResult(float("nan"), analytic, 0.0, False, "non-finite value within 2h")
    # Floor: rounding noise of a problem whose derivatives are of order one, for results that are
    # exactly zero in the reference (a saturated softmax) but a few ulps off in any implementation.
    unit = sum(float(u.abs().sum()) for u in us) * sum(float(v.abs().sum()) for v in directions)
    floor = 2 * step_error + ROUNDING_ULPS * torch.finfo(torch.float64).eps * (analytic_magnitude + unit)
    judge = functools.partial(_judge_slope, samples, analytic, step, floor, 2 * gap_step_error)
    result = judge(noise=0.0)
    # Under strict_first: a kink that reaches here is one at any sensitivities, and non-finite
    # samples do not depend on them, so the sized run would return this same result.
    if strict_first.strict() and result.margin > 1.0:
        raise strict_first.NeedsMagnitudes("finite differences: out of the strict tolerance")
    if result.margin > 1.0:
        # phi's size bounds its rounding only when its terms do not cancel; before failing, the
        # rounding is measured (rounding_noise.py) and the slope judged again with it.
        noise = rounding_noise(lambda: phi(0, with_size=False)[0], samples[0][0])
        if noise > 0.0:
            result = judge(noise=noise)
    if result.margin > 1.0 and analytic_at is not None:
        ends = [analytic_at(t) for t in (step, -step)]
        change = max(abs(a - analytic) for a in ends)
        # Central differences cancel the slope's odd part across the step; its even part, the
        # second difference, is what they average in.  When it is as large as the disagreement,
        # the slope's variation explains it (h^2 a'' where smooth, far below a 1e-5 relative error
        # unless a'' is 1e3 times a: a kink's jump or a singularity within the step).
        curvature = abs(ends[0] + ends[1] - 2 * analytic)
        disagreement = abs(result.estimate - analytic)
        if not (change <= STEP_SCALE_CHANGE * (abs(analytic) + abs(result.estimate)) and curvature < disagreement):  # NaN: left
            return FiniteDifferenceResult(
                result.estimate, analytic, 0.0, False,
                f"the analytic slope changes across the step: {analytic!r} at 0, {ends[0]!r} at h, {ends[1]!r} at -h",
            )
    return result


def _judge_slope(
    samples: Sequence[tuple[float, float]], analytic: float, step: float, floor: float, gap_floor: float, *, noise: float
) -> FiniteDifferenceResult:
    """The Richardson slope from phi at 0, h, -h, 2h, -2h and its verdict (see finite_difference_slope).

    ``noise``: phi's measured sensitivity to its own rounding, where its size understates it.
    """
    (z0, s0), (p1, s1), (m1, t1), (p2, s2), (m2, t2) = samples
    d1 = (p1 - m1) / (2 * step)
    d2 = (p2 - m2) / (4 * step)
    estimate = (4 * d1 - d2) / 3
    truncation = abs(d1 - d2)
    info = torch.finfo(torch.float64)
    # float64 rounding of phi over the step, and gradual underflow (subnormals lose precision).
    rounding = (FD_ROUNDING_ULPS * (info.eps * max(s0, s1, t1, s2, t2) + info.tiny) + FD_NOISE_FACTOR * noise) / step
    scale = abs(d1) + abs(analytic) + rounding
    # One-sided slopes differ by h*phi'' when smooth (so the gap doubles with the step) and by the
    # jump at a kink (so it does not): this catches a kink exactly at the sample, where central
    # differences are symmetric and agree with each other.
    gap1 = (p1 - 2 * z0 + m1) / step
    gap2 = (p2 - 2 * z0 + m2) / (2 * step)
    kink_at_sample = abs(gap2 - 2 * gap1)
    tolerance = 10 * truncation + rounding + 1e-12 * scale + floor
    # A kink straddled symmetrically biases both central slopes alike (by about half the gap
    # indicator), so judge it against the tolerance too, not only against the whole slope: one
    # element at relu's kink with a small cotangent is a small part of the slope but far more than
    # the tolerance.  Smooth functions give 12 a4 h^3 plus rounding well below tolerance / 4.
    gap_threshold = NONSMOOTH_RATIO * scale + 4 * rounding
    kink_threshold = min(gap_threshold, tolerance / 4 + gap_floor)
    # A kink beyond the thresholds that do not involve the floor is one whatever the sensitivities:
    # the strict pass (strict_first) may report it; one only the floor's threshold finds needs them.
    sizes_free = truncation > NONSMOOTH_RATIO * scale + rounding or kink_at_sample > gap_threshold
    if sizes_free or kink_at_sample > kink_threshold:
        if not sizes_free and strict_first.strict():
            raise strict_first.NeedsMagnitudes("finite differences: a kink found by the floor's threshold")
        return FiniteDifferenceResult(
            estimate, analytic, 0.0, False,
            f"kink or jump within 2h: central slopes {d1!r} (h), {d2!r} (2h); one-sided gaps {gap1!r}, {gap2!r}",
        )
    return FiniteDifferenceResult(estimate, analytic, tolerance, True)


def _step_rounding(x: torch.Tensor, v: torch.Tensor, step: float) -> tuple[torch.Tensor, torch.Tensor]:
    """How rounding x + t v (t = +-h, +-2h) to float64 moves the two things measured along v.

    Returns, per element, the error of the direction the Richardson slope (4 D(h) - D(2h)) / 3
    actually differentiates along, and the error those steps put into the kink indicator
    (gap(2h) - 2 gap(h)).  ``moved - x`` is exact (Sterbenz) wherever the step is small against
    x, and otherwise within an ulp of t v, far below what this measures.
    """

    hv = step * v

    def error(k: int) -> torch.Tensor:
        # ((x + t v) - x) - t v for t = k h, with t v as k (h v) (exact, as in phi), in place: at
        # 10^6 elements an allocation costs a pass
        return torch.add(x, hv, alpha=k).sub_(x).sub_(hv, alpha=k)

    e1, m1, e2, m2 = (error(k) for k in (1, -1, 2, -2))
    direction = (e1 - m1).mul_(4).div_(2 * step).sub_((e2 - m2).div_(4 * step)).div_(3)
    gaps = (e2 + m2).div_(2 * step).sub_((e1 + m1).mul_(2).div_(step))
    return direction.abs_(), gaps.abs_()


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")
