"""Where the reference cannot judge a derivative, judge the Function by its own forward.

The reference's float64 derivative is NaN or +-inf at some elements where the Function's is finite
(a formula that overflows, 0 * inf in an unselected ``torch.where`` branch), or the reference has
no such derivative at all (no double backward).  A value fails only on evidence against the
Function, so those elements are judged by the dot-product test of the Function's backward
against finite differences of its own forward in float64, along a direction restricted to them;
a 16-bit or float32 value there is compared with the Function's own float64 value.  The note
says that the reference could not judge, and what did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from autograd_props.dot_product import vjp_dot_product
from autograd_props.harness import float64_args, vjp
from autograd_props.oracles import assert_matches_truth, jacobian_magnitudes
from autograd_props.spec import FunctionSpec

__all__ = ["compare_with_own_float64", "judge_unjudged_gradients"]


def _signs(shape: torch.Size, seed: int) -> torch.Tensor:
    """A fixed pseudo-random +-1 pattern: a direction that no sum of errors cancels by design."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, tuple(shape), generator=generator, dtype=torch.float64) * 2 - 1


def compare_with_own_float64(
    got: torch.Tensor, own_truth: torch.Tensor, magnitude: torch.Tensor, mask: torch.Tensor, *, tolerance: tuple[float, float], what: str
) -> float:
    """``got`` (a lower precision) against the Function's own float64 value, at the elements of ``mask``.

    The float64 value rounded to ``got``'s dtype stands in for native: rounding it is the least
    error any implementation has.
    """
    mask = mask.cpu()
    truth = own_truth.detach().cpu()[mask]
    return assert_matches_truth(
        got.detach().cpu()[mask], truth.to(got.dtype), truth, magnitude.cpu()[mask], tolerance=tolerance, what=what
    ).margin


def judge_unjudged_gradients(
    spec: FunctionSpec,
    args: tuple[Any, ...],
    cotangents: tuple[torch.Tensor, ...],
    got: Sequence[torch.Tensor],
    unjudged: dict[int, torch.Tensor],
) -> str:
    """Judge the gradient elements in ``unjudged`` (argument position -> mask); return the note.

    Raises AssertionError when finite differences, or the Function's own float64 gradient, show
    the Function wrong there.
    """
    count = sum(int(m.sum()) for m in unjudged.values())
    what = f"{spec.name}: {count} gradient elements where the reference's float64 gradient is NaN or inf"
    if torch.float64 not in spec.dtypes:
        return f"the reference could not judge {count} gradient elements (NaN or inf in float64), and {spec.name} has no float64 to judge them by"
    which = spec.differentiable(args)
    args64, cots64 = float64_args(args), float64_args(cotangents)
    own = jacobian_magnitudes(spec.function, args64, which, cots64).vjp
    directions = tuple(
        (_signs(args[i].shape, seed=17 + i) * unjudged[i].cpu() if i in unjudged else torch.zeros(args[i].shape, dtype=torch.float64)).to(args[i].device)
        for i in which
    )
    result = vjp_dot_product(spec, args64, cots64, directions, sensitivities=own)
    if not result.smooth:
        return f"the reference could not judge {count} gradient elements (NaN or inf in float64), nor could finite differences ({result.reason.split(':')[0]})"
    result.check(f"{what}: the Function's backward there")
    if args[which[0]].dtype != torch.float64:
        _, own_truth = vjp(spec.function, args64, which, cots64, what=spec.name)
        for k, i in enumerate(which):
            if i in unjudged:
                compare_with_own_float64(
                    got[k], own_truth[k], own[k], unjudged[i], tolerance=spec.tolerance(got[k].dtype),
                    what=f"{what}: gradient of argument {i} against the Function's own float64 gradient",
                )
    return f"the reference could not judge {count} gradient elements (NaN or inf in float64); finite differences of the Function agree there"
