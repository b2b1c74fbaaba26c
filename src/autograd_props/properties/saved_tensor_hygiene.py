"""Property 'saved_tensor_hygiene': tensors backward needs are saved with save_for_backward.

After forward, each input is modified in place.  Autograd must then refuse (its version-counter
error, or, for a Function that returns a view of its input, its view-and-in-place error: either
protects the user), or backward must give the unmodified result (it saved something else, such as
its output).  Judged by behaviour, not by the error's text: a silently different gradient means a
tensor was kept on ctx as an attribute.
"""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.harness import (
    as_outputs,
    grads_of,
    vjp,
    with_grad,
)
from autograd_props.nondeterminism import lazy_vjp_magnitudes, same_up_to_order
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.spec import FunctionSpec

REFUSED = "autograd refused the modified inputs (an error, as it must)"
UNCHANGED = "backward gave the unmodified result"


def check_saved_tensor_hygiene(
    spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]
) -> str:
    """Returns what the example showed (both outcomes are fine); raises AssertionError on a changed gradient."""
    which = spec.differentiable(args)
    if not which:
        return "no differentiable inputs"
    _, expected = vjp(spec.function, args, which, cotangents, what=spec.name)
    leaves = with_grad(args, which)
    # Non-leaf copies, so they may be modified in place while part of the graph.
    inputs = [leaves[i] * 1 if i in which else a for i, a in enumerate(leaves)]
    outs = as_outputs(spec.function(*inputs), what=spec.name)
    if not any(o.requires_grad for o in outs):
        return "no output requires grad"
    try:
        with torch.no_grad():
            for i in which:
                inputs[i].mul_(2).add_(1)
        grads = grads_of(outs, [leaves[i] for i in which], cotangents)
    except RuntimeError:
        return REFUSED
    magnitude = lazy_vjp_magnitudes(spec, args, which, cotangents)
    for k, (i, g, e) in enumerate(zip(which, grads, expected)):
        g = torch.zeros_like(e) if g is None else g
        if torch.equal(g.nan_to_num(0.0), e.nan_to_num(0.0)):
            continue
        if same_up_to_order(g, e, spec.nondet_ulps, lambda k=k: magnitude(k)):
            continue  # the spec's declared summation order, not a modified input
        diff = (g.double() - e.double()).abs().max().item()
        _raise_if_nondeterministic(spec, args, which, cotangents, k, i, e, diff)
        raise AssertionError(
            f"{spec.name}: after its inputs were modified in place, backward silently gave a different "
            f"gradient for argument {i} (max difference {diff:.3g}) instead of raising autograd's "
            f"version-counter error: a tensor backward uses is kept on ctx instead of save_for_backward"
        )
    return UNCHANGED


def _raise_if_nondeterministic(spec, args, which, cotangents, k: int, i: int, expected: torch.Tensor, diff: float) -> None:
    """A changed gradient blames ctx only if backward on unmodified inputs gives the same gradient
    twice: a backward that sums in no fixed order (atomics on GPU) differs without any kept tensor."""
    _, again = vjp(spec.function, args, which, cotangents, what=spec.name)
    if torch.equal(again[k].nan_to_num(0.0), expected.nan_to_num(0.0)):
        return
    spread = (again[k].double() - expected.double()).abs().max().item()
    raise AssertionError(
        f"{spec.name}: backward is nondeterministic: two backward passes on unmodified inputs gave gradients for "
        f"argument {i} that differ by up to {spread:.3g}, so the difference after its inputs were modified in place "
        f"(max {diff:.3g}) does not show a tensor kept on ctx. If the order of summation is nondeterministic by "
        f"design (atomics on GPU), declare FunctionSpec(nondet_ulps=...) (deterministic_backward judges it)"
    )


PROPERTY = Property(
    name="saved_tensor_hygiene",
    summary="after an input is modified in place, backward raises autograd's error or gives the unmodified result",
    check=check_saved_tensor_hygiene,
    draw=draw_args_and_cotangents,
)
