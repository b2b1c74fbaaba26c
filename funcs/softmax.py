"""Softmax(x, dim), stable for large magnitudes; saves only its output.

Forward subtracts the maximum along dim, as torch.softmax does, and like it leaves an infinite
maximum in place: a slice holding +inf, or all -inf, is NaN throughout, exactly as native.
Backward is y * (g - sum(g * y)) and jvp y * (t - sum(t * y)) (each sum divided by sum(y), see
``_softmax_jvp_like``): both from the saved output y alone, so double backward differentiates
through this Function's own output.  float16/bfloat16 compute in float32 and round once.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from funcs._opmath import upcast
from funcs.spec import FunctionSpec
from properties.strategies import tensors


def _softmax_jvp_like(y: torch.Tensor, v: torch.Tensor, dim: int) -> torch.Tensor:
    """y * (v - sum(v * y) / sum(y)): the Jacobian of softmax applied to v (it is symmetric).

    sum(y) is 1 mathematically; dividing by it makes the weighted mean of v exact for a saved
    output whose rounding (in float16/bfloat16 above all) leaves sum(y) != 1, so a constant v
    gives exactly 0, as it must.  Along any perturbation of a softmax output sum(y) stays 1, so
    the division changes no derivative: double backward is still softmax's.
    """
    y, v = upcast(y), upcast(v)
    return y * (v - (v * y).sum(dim, keepdim=True) / y.sum(dim, keepdim=True))


class Softmax(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, dim: int) -> torch.Tensor:
        xc = upcast(x)
        if xc.numel() == 0:
            # amax refuses an empty reduced dimension; an empty softmax is an empty tensor.
            return torch.exp(xc).to(x.dtype)
        e = torch.exp(xc - xc.amax(dim, keepdim=True))
        return (e / e.sum(dim, keepdim=True)).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, dim = inputs
        ctx.dim = dim % max(x.dim(), 1)  # a 0-d tensor accepts dim 0 and -1
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (y,) = ctx.saved_tensors
        return _softmax_jvp_like(y, grad_output, ctx.dim).to(y.dtype), None

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
