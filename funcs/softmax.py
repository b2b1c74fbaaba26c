"""Softmax(x, dim), stable for large magnitudes; saves only its output.

Forward is the fused softmax kernel (it subtracts the maximum along dim, and leaves an infinite
maximum in place: a slice holding +inf, or all -inf, is NaN throughout).  Backward is
y * (g - sum(g * y)), from the saved output y alone, by the fused kernel native autograd uses,
``aten._softmax_backward_data``.  That kernel is itself differentiable (in g, and in y through
softmax's second derivative), so double backward differentiates through this Function's own
output.  jvp is y * (t - sum(t * y)) (the Jacobian is symmetric), written out with the sum
divided by sum(y), see ``_softmax_jvp_like``.  float16/bfloat16 compute in float32 and round
once.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from autograd_props import FunctionSpec, tensors
from funcs._opmath import upcast


def _softmax_jvp_like(y: torch.Tensor, v: torch.Tensor, dim: int) -> torch.Tensor:
    """y * (v - sum(v * y) / sum(y)): the Jacobian of softmax applied to v (it is symmetric).

    sum(y) is 1 mathematically; dividing by it makes the weighted mean of v exact for a saved
    output whose rounding (in float16/bfloat16 above all) leaves sum(y) != 1, so a constant v
    gives exactly 0, as it must (and as native's forward mode gives).  Along any perturbation of
    a softmax output sum(y) stays 1, so the division changes no derivative.
    """
    y, v = upcast(y), upcast(v)
    return y * (v - (v * y).sum(dim, keepdim=True) / y.sum(dim, keepdim=True))


class Softmax(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, dim: int) -> torch.Tensor:
        return torch.softmax(x, dim)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, dim = inputs
        ctx.dim = dim % max(x.dim(), 1)  # a 0-d tensor accepts dim 0 and -1
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (y,) = ctx.saved_tensors
        return torch._softmax_backward_data(grad_output, y, ctx.dim, y.dtype), None

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor, dim_tangent: None) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return _softmax_jvp_like(y, x_tangent, ctx.dim).to(y.dtype)


def softmax_reference(x: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.softmax(x, dim)


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    x = draw(tensors(dtype=dtype, device=device))
    rank = max(x.dim(), 1)
    dim = draw(st.integers(min_value=-rank, max_value=rank - 1))
    return (x, dim)


SPEC = FunctionSpec(name="softmax", function=Softmax.apply, reference=softmax_reference, args=_args)
