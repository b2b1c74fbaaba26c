"""Property 'vmap': torch.func transforms through the Function.

A Function that claims vmap (``generate_vmap_rule = True`` or a ``vmap`` staticmethod) must give
under ``torch.func.vmap`` what a Python loop over the samples gives, and ``jacrev`` through it
must match the reference's.  ``torch.func.vjp`` and ``torch.func.grad`` need no vmap rule and are
checked for every Function.  A Function without a vmap rule must raise under vmap.  A classic-style
Function (``forward(ctx, ...)`` without ``setup_context``) cannot claim any of this: torch.func
refuses every such Function, and the cell says so.  A custom op claims vmap with ``register_vmap``;
without one torch runs it per sample, which must match the loop too; torch.func's other transforms
refuse a custom op's autograd, and the cell says so.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from hypothesis import strategies as st

from autograd_props import kinks
from autograd_props.cell import Cell
from autograd_props.harness import as_outputs, float64_args, float64_cpu_args, of_inputs, vjp
from autograd_props.oracles import (
    ToleranceError,
    assert_matches_truth,
    assert_same_result,
    jacobian_magnitudes,
)
from autograd_props.properties.base import Property, draw_args, draw_cotangents
from autograd_props.results import NOT_CLAIMED, Verdict
from autograd_props.spec import FunctionSpec

MAX_BATCH = 3


def _sample(args, batched: dict[int, torch.Tensor], k: int) -> tuple[Any, ...]:
    return tuple(batched[i][k] if i in batched else a for i, a in enumerate(args))


def check_vmap(
    spec: FunctionSpec,
    *,
    args: tuple[Any, ...],
    batched: dict[int, torch.Tensor],
    cotangents: tuple[torch.Tensor, ...],
) -> Verdict:
    """``batched`` maps argument positions to a stack of samples along dim 0; others are shared."""
    which = spec.differentiable(args)
    refused = not spec.supports_functorch and _refused(lambda: torch.func.vjp(of_inputs(spec.function, args, which), *(args[i] for i in which)))
    if refused and spec.custom_op is None:
        # PyTorch's own rule, not the Function's claim: judge the transforms only if they run.
        return Verdict(notes=(CLASSIC_NOTE,))
    margins: list[float] = []
    notes: list[str] = [CUSTOM_OP_NOTE] if refused else []
    if which and not refused:
        margins += _check_func_vjp_and_grad(spec, args, which, cotangents, notes)
    if not batched:
        return Verdict(tuple(margins), tuple(notes))
    in_dims = tuple(0 if i in batched else None for i in range(len(args)))
    vmapped_args = tuple(batched.get(i, a) for i, a in enumerate(args))
    if not spec.claims_vmap:
        if _refused(lambda: torch.func.vmap(spec.function, in_dims=in_dims)(*vmapped_args)):
            return Verdict(tuple(margins), (*notes, f"{NOT_CLAIMED}: no vmap rule, and vmap raised as it must"))
        if spec.custom_op is None:
            # torch raises for a Function without a vmap rule under vmap: the spec's function went
            # around it (a checkpoint helper that skips the Function when nothing requires grad).
            # What it does under vmap is what a user gets: it must match the loop.
            notes.append(f"{spec.function_label} has no vmap rule, yet vmap of the spec's function returned a result: it does not "
                         "call the Function under vmap (a wrapper that goes around it), so that path is checked against a loop")
        else:
            # torch batches an op without a vmap rule by running it per sample: it must match the loop.
            notes.append("no register_vmap: torch's per-sample fallback, checked against a loop")

    def as_tuple(*a):
        return as_outputs(spec.function(*a), what=spec.name)

    got = torch.func.vmap(as_tuple, in_dims=in_dims)(*vmapped_args)
    size = next(iter(batched.values())).shape[0]
    for k in range(size):
        sample = _sample(args, batched, k)
        expected = of_inputs(spec.function, sample, ())()
        magnitudes = jacobian_magnitudes(spec.reference, sample, spec.differentiable(sample)).forward
        for j, (e, m) in enumerate(zip(expected, magnitudes)):
            margins.append(
                assert_same_result(
                    got[j][k], e, m, tolerance=spec.tolerance(e.dtype), what=f"{spec.name} vmap output {j}, sample {k}"
                ).margin
            )
    if which and not refused and all(args[i].numel() for i in which):
        margins += _check_jacrev(spec, args, which, notes)  # jacrev cannot reshape zero-size Jacobians
    return Verdict(tuple(margins), tuple(notes))


CLASSIC_NOTE = (
    f"{NOT_CLAIMED}: a classic-style Function (forward(ctx, ...), no setup_context), which torch.func refuses "
    "as it does every such Function"
)


CUSTOM_OP_NOTE = (
    "torch.func.vjp, grad and jacrev refuse a custom op's autograd (torch's own classic-style Function "
    "behind register_autograd): only vmap of the forward is checked"
)


def _refused(call) -> bool:
    try:
        call()
    except (RuntimeError, NotImplementedError):
        return True
    return False


def _check_func_vjp_and_grad(spec, args, which, cotangents, notes: list[str]) -> list[float]:
    primals = tuple(args[i] for i in which)
    args64 = float64_args(args)
    magnitudes = jacobian_magnitudes(spec.reference, args, which, cotangents).vjp
    tolerance = spec.tolerance(primals[0].dtype)

    def vjp_of(fn, a, cots):
        _, pullback = torch.func.vjp(of_inputs(fn, a, which), *(a[i] for i in which))
        return pullback(tuple(cots))

    def grad_of(fn, a, cots):
        def scalar(*xs):
            return sum((o * c).sum() for o, c in zip(of_inputs(fn, a, which)(*xs), cots))

        return torch.func.grad(scalar, argnums=tuple(range(len(which))))(*(a[i] for i in which))

    margins = []
    plain = None  # the Function's own autograd VJP, where the reference cannot judge
    for name, transform in (("torch.func.vjp", vjp_of), ("torch.func.grad", grad_of)):
        got = transform(spec.function, args, cotangents)
        native = transform(spec.reference, args, cotangents)
        truth = transform(spec.reference, args64, float64_args(cotangents))
        for k, (i, g, n, t, m) in enumerate(zip(which, got, native, truth, magnitudes)):
            what = f"{spec.name} {name} of argument {i}"
            try:
                comparison = assert_matches_truth(g, n, t, m, tolerance=tolerance, what=what, reference_may_fail=True)
            except ToleranceError as exc:
                beside = lambda a64, k=k, transform=transform: transform(spec.reference, a64, float64_cpu_args(cotangents))[k]
                convention = kinks.one_sided_convention(spec, exc, beside, args, which, what=what)
                if convention:
                    notes.append(convention)
                    continue
                plain = plain or vjp(spec.function, args, which, cotangents, what=spec.name)[1]
                if torch.equal(plain[k], g):  # the transform changed nothing: say where to look
                    finding = str(exc).removeprefix(f"{what}: ")
                    raise ToleranceError(
                        f"{what} (the same values plain autograd's backward gives: the Function's own gradient, which "
                        f"vjp_native judges, not a fault of the transform): {finding}",
                        failing=exc.failing, got=exc.got, truth=exc.truth, allowed=exc.allowed,
                    ) from None
                raise
            margins.append(comparison.margin)
            if comparison.unjudged_count:  # vjp_native judges the values there; the transform must agree with autograd
                plain = plain or vjp(spec.function, args, which, cotangents, what=spec.name)[1]
                mask = comparison.unjudged.to(g.device)
                expected = torch.where(mask, plain[k], g)
                margins.append(assert_same_result(g, expected, expected.abs(), tolerance=tolerance, what=f"{what}, against autograd").margin)
    return margins


def _check_jacrev(spec, args, which, notes: list[str]) -> list[float]:
    primals = tuple(args[i] for i in which)
    argnums = tuple(range(len(which)))
    got = torch.func.jacrev(of_inputs(spec.function, args, which), argnums=argnums)(*primals)

    def reference_jacobian(a):
        return torch.func.jacrev(of_inputs(spec.reference, a, which), argnums=argnums)(*(a[i] for i in which))

    native, truth = reference_jacobian(args), reference_jacobian(float64_args(args))
    tolerance = spec.tolerance(primals[0].dtype)
    margins = []
    for k in range(len(got)):
        for j in range(len(which)):
            # Each Jacobian entry is a single derivative: its own magnitude is the right scale.
            magnitude = truth[k][j].abs()
            what = f"{spec.name} jacrev block (output {k}, argument {which[j]})"
            comparison = kinks.judged_at_kinks(
                functools.partial(assert_matches_truth, got[k][j], native[k][j], truth[k][j], magnitude, tolerance=tolerance, what=what),
                spec, lambda a64, k=k, j=j: reference_jacobian(a64)[k][j], args, which, what=what, notes=notes,
            )
            if comparison is not None:
                margins.append(comparison.margin)
    return margins


def rolled(x: torch.Tensor, shift: int) -> torch.Tensor:
    """x's own values, cyclically shifted: another sample from the spec's domain, same shape."""
    return x.reshape(-1).roll(shift).reshape(x.shape) if x.numel() else x


@st.composite
def batches(draw, args: tuple[Any, ...]) -> dict[int, torch.Tensor]:
    """Stacks of samples for a non-empty random subset of the tensor arguments.

    Samples are the drawn argument and rolls of its values, so they stay in the spec's domain
    (a spec may bound values, as Exp does to stay finite) and share its shape.
    """
    positions = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
    if not positions:
        return {}
    chosen = draw(st.sets(st.sampled_from(positions), min_size=1))
    size = draw(st.integers(1, MAX_BATCH))
    return {i: torch.stack([rolled(args[i], k) for k in range(size)]) for i in sorted(chosen)}


def _draw(cell: Cell, data: st.DataObject) -> dict[str, Any]:
    args = draw_args(cell, data)
    batched = data.draw(batches(args), label="batched")
    return {"args": args, "batched": batched, "cotangents": draw_cotangents(cell, data, args)}


PROPERTY = Property(
    name="vmap",
    summary="with a vmap rule: torch.func.vmap matches a loop over samples and jacrev matches the reference; "
    "without one: vmap must raise.  torch.func.vjp and torch.func.grad are checked for every Function",
    check=check_vmap,
    draw=_draw,
)
