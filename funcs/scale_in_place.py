"""ScaleInPlace: x *= s in place, for a Python float s; returns x itself.

Classic style.  The input is modified in place and marked dirty (``ctx.mark_dirty``), so after
the call its history goes through this Function, and a loss taken on x sees the scaling.  The
spec says so with ``in_place=(0,)``; the reference is the same in-place op.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from autograd_props import FunctionSpec, tensors


class ScaleInPlace(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        x.mul_(scale)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return grad_output * ctx.scale, None


def scale_in_place_reference(x: torch.Tensor, scale: float) -> torch.Tensor:
    return x.mul_(scale)


def _args(dtype: torch.dtype, device: torch.device):
    return st.tuples(tensors(dtype=dtype, device=device), st.floats(-4.0, 4.0))


SPEC = FunctionSpec(
    name="scale_in_place", function=ScaleInPlace.apply, reference=scale_in_place_reference, args=_args, in_place=(0,)
)
