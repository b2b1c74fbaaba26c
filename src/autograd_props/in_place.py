"""Calling an in-place Function (``ctx.mark_dirty``) the way the suite calls every Function.

An in-place Function modifies an input and returns it (or a view of it).  The suite calls it on a
fresh clone of each argument it modifies, so a drawn example is never changed behind the suite's
back and an input that requires grad reaches the Function as a non-leaf (as in training; autograd
refuses to modify a leaf in place).  The modified arguments are returned after the Function's own
outputs: a loss taken on an input after the call must see the Function, which is exactly what a
forgotten ``mark_dirty`` breaks, and every property then checks that history like any output.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["calling_in_place"]


def calling_in_place(fn: Callable[..., Any], positions: Sequence[int], *, what: str) -> Callable[..., Any]:
    """``fn`` called on clones of ``args[positions]``, returning its outputs then those clones."""
    if getattr(fn, "_in_place_positions", None) == tuple(positions):
        return fn  # already wrapped (dataclasses.replace of a spec runs __post_init__ again)

    @functools.wraps(fn)
    def call(*args: Any) -> tuple[torch.Tensor, ...]:
        args = list(args)
        for i in positions:
            if i >= len(args) or not isinstance(args[i], torch.Tensor):
                got = "nothing" if i >= len(args) else type(args[i]).__name__
                raise TypeError(f"{what}: in_place names argument {i}, which is {got}, not a tensor")
            args[i] = args[i].clone()
        out = fn(*args)
        outs = out if isinstance(out, tuple) else (out,)
        return (*outs, *(args[i] for i in positions))

    call._in_place_positions = tuple(positions)
    call.raw = fn
    return call
