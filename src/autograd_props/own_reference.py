"""The reference of a spec without one (``reference=None``): the Function itself, in float64.

Many custom Functions exist because torch has no such op, so there is no native reference to
compare with.  The properties then compare each dtype with the Function's own float64 result,
rounded back to the dtype (as if native computed exactly and rounded once), and float64 itself
is judged by finite differences and self-consistency only.  Where that leaves a cell with
nothing to compare (the Function in float64 against itself), the cell is not applicable and
says why (``Property.without_reference``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["own_float64"]


def own_float64(fn: Callable[..., Any], in_place: Sequence[int] = ()) -> Callable[..., Any]:
    """``fn`` run on float64 copies of its floating tensors (differentiably), its floating
    outputs cast back to the dtype of the first floating tensor argument.  Arguments modified in
    place (``in_place``) get the float64 result copied back, so they are modified as ``fn``
    modifies them."""

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        floating = [a for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
        dtype = floating[0].dtype if floating else torch.float64
        wide = [a.to(torch.float64) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args]
        out = fn(*wide)
        for i in in_place:
            args[i].copy_(wide[i])
        outs = out if isinstance(out, tuple) else (out,)
        narrowed = tuple(o.to(dtype) if isinstance(o, torch.Tensor) and o.is_floating_point() else o for o in outs)
        return narrowed if isinstance(out, tuple) else narrowed[0]

    call.is_own_float64 = True
    call.own_of = fn
    return call
