"""Sort: sorted values and the permutation (indices) that sorts, along a ``dim``.

Classic style (``forward(ctx, ...)``).  The indices are an integer output: marked
non-differentiable, compared exactly.  Backward scatters each value's gradient back to where the
value came from.  The sort is stable, so ties (exact zeros are common) sort the same way in
every run, compiled or not.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from autograd_props import FunctionSpec, dims, tensors


class Sort(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        values, order = torch.sort(x, dim=dim, stable=True)
        ctx.mark_non_differentiable(order)
        ctx.save_for_backward(order)
        ctx.dim = dim
        return values, order

    @staticmethod
    def backward(ctx, grad_values: torch.Tensor, grad_order: None):
        (order,) = ctx.saved_tensors
        # The inverse permutation: value k of the output came from position order[k].
        return torch.zeros_like(grad_values).scatter(ctx.dim, order, grad_values), None


def sort_reference(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.sort(x, dim=dim, stable=True)


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    x = draw(tensors(dtype=dtype, device=device))
    return (x, draw(dims(x.dim())))


SPEC = FunctionSpec(name="sort", function=Sort.apply, reference=sort_reference, args=_args)
