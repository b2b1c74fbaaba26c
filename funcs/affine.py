"""Affine: the seed's ``w * x + b`` generalised to broadcastable tensors.

Each gradient is reduced to its own input's shape (autograd would otherwise quietly sum a
broadcast gradient for us and hide a forgotten reduction), and everything backward needs is
saved with ``save_for_backward``: the seed's version read ``w`` from a global.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from autograd_props import FunctionSpec, broadcastable_shapes, tensors
from funcs._opmath import upcast


def sum_to_shape(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Undo broadcasting: sum ``grad`` over the dimensions that broadcasting added or expanded."""
    if grad.shape == shape:
        return grad
    extra = grad.dim() - len(shape)
    dims = list(range(extra)) + [extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1]
    return grad.sum(dim=dims, keepdim=True).reshape(shape) if dims else grad.reshape(shape)


class Affine(torch.autograd.Function):
    @staticmethod
    def forward(w: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return w * x + b

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        w, x, b = inputs
        ctx.save_for_backward(w, x)
        ctx.b_shape = b.shape
        ctx.b_dtype = b.dtype

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        w, x = ctx.saved_tensors
        # Reduce in native autograd's order: g first to the shape of w * x (what b's broadcast
        # added), then multiply.  Multiplying first can overflow where native does not: g * x
        # summed as -3e38 - 3e38 + 3e38 is -inf in float32, sum(g) * x is -3e38.  float16 and
        # bfloat16 also multiply and reduce in float32 and round once, as native's kernels do.
        grad = upcast(grad_output)
        grad_wx = sum_to_shape(grad, torch.broadcast_shapes(w.shape, x.shape))
        grad_w = grad_x = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_w = sum_to_shape(grad_wx * upcast(x), w.shape).to(w.dtype)
        if ctx.needs_input_grad[1]:
            grad_x = sum_to_shape(grad_wx * upcast(w), x.shape).to(x.dtype)
        if ctx.needs_input_grad[2]:
            grad_b = sum_to_shape(grad, ctx.b_shape).to(ctx.b_dtype)
        return grad_w, grad_x, grad_b


def affine_reference(w: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return w * x + b


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    shapes = draw(broadcastable_shapes(3))
    return tuple(draw(tensors(dtype=dtype, device=device, shape=shape)) for shape in shapes)


SPEC = FunctionSpec(name="affine", function=Affine.apply, reference=affine_reference, args=_args)
