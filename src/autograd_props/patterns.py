"""The finite / NaN / inf pattern oracle, for inputs at the edges of a dtype's range.

Where the reference's output is finite, the Function's output must be finite; where the reference
has +-inf the Function must have the same, and where it has NaN the Function must not be finite.
Where native breaks the pattern of the float64 truth rounded to the dtype, a value with the
truth's pattern is right too: native's own overflow (native bfloat16 linear accumulates in float32
and overflows to -inf where the sum is -3.39e38, and the truth is finite), or native's own order of
operations (native float16 layer norm gives inf for a constant row with weight and bias inf, where
the truth is 0 * inf + inf = NaN).  And where rounding decides the truth's own pattern, any
implementation's rounding decides it too: an element whose pattern changes when the float64
reference is evaluated at inputs moved by a few ulps of their dtype (inf times a difference that
cancels to within rounding of 0; a value within a few ulps of overflowing) accepts any pattern the
moved truths show, and NaN where they show both infinities: IEEE arithmetic's inf * 0, where
rounding picks the infinity's sign.

Where the reference's gradient is finite, the Function's must be too, except at the input
elements whose gradient depends on an output that is itself not finite: a derivative there is not
judged (as forward AD does not judge a tangent at a non-finite output).  An elementwise Function
whose output overflows near the dtype's maximum may give a non-finite gradient there; a
reduction whose output overflows, at every input.

Two tiers draw the inputs (``special_values`` and ``extreme_values``, see :func:`tier_elements`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from hypothesis import strategies as st

from autograd_props.harness import (
    as_outputs,
    float64_cpu_args,
    vjp,
)
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec
from autograd_props.strategies import elements, tensors

NON_FINITE = (float("nan"), float("inf"), -float("inf"))


TIERS = ("special", "extreme")


def _in_dtype(values, dtype: torch.dtype) -> tuple[float, ...]:
    rounded = (float(torch.tensor(v, dtype=dtype)) for v in values)
    return tuple(v for v in rounded if math.isfinite(v))


def tier_elements(dtype: torch.dtype, tier: str) -> st.SearchStrategy[float]:
    """Values for one tier of the dtype's range.

    ``special``: NaN, +-inf, values near the overflow of exp-like Functions (log(max)) and up to
    the square root of the largest value, where a square still fits: the ordinary range, where an
    overflow inside a Function whose output is finite is a bug.  ``extreme``: beyond the square
    root up to the largest finite value, mixed with ordinary values and NaN/inf, where even a
    careful variance overflows; a spec may opt out of this tier alone.
    """
    info = torch.finfo(dtype)
    root = math.sqrt(info.max)
    if tier == "special":
        near = _in_dtype([math.log(info.max) * f for f in (0.5, 0.9, 0.99, 1.01, 1.1)] + [root * f for f in (0.5, 0.9, 0.99)], dtype)
        rest = elements(dtype, max_abs=root)
    else:
        near = _in_dtype([root * f for f in (1.01, 1.1, 2.0)] + [info.max * f for f in (0.5, 0.9, 0.99)], dtype)
        beyond = st.floats(min(near), info.max * 0.999, width=64).map(lambda v: float(torch.tensor(v, dtype=dtype)))
        rest = st.one_of(beyond, beyond.map(lambda v: -v), elements(dtype))
    special = st.sampled_from(NON_FINITE + near + tuple(-v for v in near))
    return st.one_of(special, rest)


def _pattern_mismatch(got: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Elements where got breaks ref's finite / NaN / +-inf pattern."""
    ref_finite = torch.isfinite(ref)
    bad = ref_finite & ~torch.isfinite(got)
    # A NaN in the reference may be its own overflow (inf - inf in a variance, say) that a careful
    # implementation resolves to +-inf; a finite value there would hide a NaN input, so it fails.
    bad |= torch.isnan(ref) & torch.isfinite(got)
    bad |= torch.isinf(ref) & (got != ref)
    return bad


def _rounded_truth(spec: FunctionSpec, args: tuple[Any, ...], like: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The reference's outputs computed in float64 on the CPU, then rounded to each output's dtype."""
    with torch.no_grad():
        truth = as_outputs(spec.reference(*float64_cpu_args(args)), what="reference")
    return tuple(t.to(r.dtype) for t, r in zip(truth, like))




# The moves that show which patterns rounding can give (see the module docstring): seeded random
# signs, each element moved by PERTURBATION_ULPS ulps of its dtype, relative; 8 moves leave a
# sign that cancellation decides unseen with a chance of about 2^-8.
PERTURBATIONS = 8
PERTURBATION_ULPS = 4
_FINITE, _NAN, _POSINF, _NEGINF = 1, 2, 4, 8  # one bit per pattern


def _pattern_bits(t: torch.Tensor) -> torch.Tensor:
    bits = torch.full(t.shape, _FINITE, dtype=torch.uint8)
    bits[torch.isnan(t)] = _NAN
    bits[torch.isposinf(t)] = _POSINF
    bits[torch.isneginf(t)] = _NEGINF
    return bits


def _decided_by_rounding(spec: FunctionSpec, args: tuple[Any, ...], k: int, got: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """The elements of output ``k`` where the truth's pattern changes when the inputs move by
    PERTURBATION_ULPS ulps, and ``got`` has one of the patterns the moved truths show, or is NaN
    where they show both infinities."""
    which = spec.differentiable(args)
    generator = torch.Generator().manual_seed(0)
    stable = _pattern_bits(truth)
    seen = stable.clone()
    for _ in range(PERTURBATIONS):
        # copies: float64 CPU arguments would be the caller's own tensors, moved in place below
        moved = [a.clone() if isinstance(a, torch.Tensor) else a for a in float64_cpu_args(args)]
        for i in which:
            signs = torch.randint(0, 2, moved[i].shape, generator=generator).to(torch.float64).mul_(2).sub_(1)
            moved[i].mul_(signs.mul_(PERTURBATION_ULPS * torch.finfo(args[i].dtype).eps).add_(1))
        try:
            with torch.no_grad():
                out = as_outputs(spec.reference(*moved), what="reference")[k]
        except Exception:  # noqa: BLE001 -- a move the reference rejects shows nothing
            continue
        seen |= _pattern_bits(out.to(truth.dtype).cpu())
    unstable = seen != stable
    # NaN where rounding picks the infinity's sign: IEEE's inf * 0
    both_infinities = (seen & (_POSINF | _NEGINF)) == (_POSINF | _NEGINF)
    return unstable & ((both_infinities & torch.isnan(got)) | ((seen & _pattern_bits(got)) != 0))


def _describe(what: str, got: torch.Tensor, ref: torch.Tensor, bad: torch.Tensor, truth: torch.Tensor | None = None) -> str:
    index = tuple(int(i) for i in bad.nonzero()[0]) if bad.dim() else ()
    rounded = f", float64 truth rounded to {ref.dtype} {truth[index].item()!r}" if truth is not None else ""
    return (
        f"{what}: {int(bad.sum())} of {bad.numel()} elements break the reference's finite/NaN/inf pattern; "
        f"first at index {index}: reference {ref[index].item()!r}{rounded}, got {got[index].item()!r}"
    )


def _after_nonfinite_outputs(
    spec: FunctionSpec, args: tuple[Any, ...], which: tuple[int, ...], outs: tuple[torch.Tensor, ...], ref_outs: tuple[torch.Tensor, ...]
) -> list[torch.Tensor]:
    """Per differentiable argument, the elements whose gradient depends on a non-finite output.

    Found by a float64 backward of the reference and of the Function with the cotangent 1 on each
    output element that is not finite (in the Function's or the reference's output) and 0
    elsewhere: an input element depends on such an output where either gradient is not exactly 0.
    """
    nonfinite = [(~torch.isfinite(o.detach()) | ~torch.isfinite(r.detach())).cpu() for o, r in zip(outs, ref_outs)]
    none = [torch.zeros(args[i].shape, dtype=torch.bool) for i in which]
    if not any(bool(m.any()) for m in nonfinite):
        return none
    affected = none
    # Both the reference's and the Function's backward: a reference may define its derivative
    # at a non-finite value as 0 (a surrogate's where), where the Function's depends on it.
    for fn, what in ((spec.reference, "reference"), (spec.function, spec.name)):
        try:
            _, probe = vjp(fn, float64_cpu_args(args), which, [m.double() for m in nonfinite], what=what)
        except Exception:
            if fn is spec.reference:  # the reference cannot even say: judge none of them
                return [torch.ones(args[i].shape, dtype=torch.bool) for i in which]
            continue  # a Function without float64: the reference's answer stands
        affected = [a | (p != 0) | ~torch.isfinite(p) for a, p in zip(affected, probe)]
    return affected


def check_pattern(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> Verdict:
    """The pattern oracle on one example: outputs, then gradients (see the module docstring)."""
    which = spec.differentiable(args)
    outs, grads = vjp(spec.function, args, which, cotangents, what=spec.name)
    ref_outs, ref_grads = vjp(spec.reference, args, which, cotangents, what="reference")
    truth = None  # computed only when needed: most examples match the reference's pattern outright
    for k, (g, r) in enumerate(zip(outs, ref_outs)):
        bad = _pattern_mismatch(g, r)
        if bad.any():
            if truth is None:
                truth = _rounded_truth(spec, args, ref_outs)
            bad = bad.cpu() & _pattern_mismatch(g.detach().cpu(), truth[k].cpu())
        if bad.any():
            bad &= ~_decided_by_rounding(spec, args, k, g.detach().cpu(), truth[k].cpu())
        if bad.any():
            raise AssertionError(_describe(f"{spec.name} output {k}", g.cpu(), r.cpu(), bad, truth[k]))
    excused = _after_nonfinite_outputs(spec, args, which, outs, ref_outs)
    for i, g, r, e in zip(which, grads, ref_grads, excused):
        bad = (torch.isfinite(r) & ~torch.isfinite(g)).cpu() & ~e
        if bad.any():
            raise AssertionError(_describe(f"{spec.name} gradient of argument {i} (reference finite)", g.cpu(), r.cpu(), bad))
    count = sum(int((e & ~torch.isfinite(g.cpu())).sum()) for g, e in zip(grads, excused))
    return Verdict(notes=(f"gradient not judged where it depends on a non-finite output ({count} elements)",) if count else ())


@st.composite
def tier_args(draw, spec: FunctionSpec, args: tuple[Any, ...], tier: str) -> tuple[Any, ...]:
    """The same arguments with every differentiable floating tensor redrawn from ``tier``."""
    which = spec.differentiable(args)
    return tuple(
        draw(tensors(dtype=a.dtype, device=a.device, shape=tuple(a.shape), elements_strategy=tier_elements(a.dtype, tier)))
        if i in which
        else a
        for i, a in enumerate(args)
    )



