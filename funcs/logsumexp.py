"""LogSumExp(x, dim, keepdim): log(sum(exp(x), dim)), stable for large magnitudes.

Forward subtracts the row maximum before exponentiating (a +-inf maximum is replaced by 0, as
torch.logsumexp does, so an all -inf row gives -inf rather than NaN).  Backward and jvp use only
the saved input and output: the gradient is softmax(x) = exp(x - out), which is at most 1.

Matches torch.logsumexp at the edges: an empty reduced dimension gives -inf (log of an empty
sum), with an empty gradient; an all -inf row gives -inf with a NaN gradient (exp(-inf - -inf)),
which is what native autograd gives there too.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from funcs._opmath import upcast
from funcs.spec import FunctionSpec
from properties.strategies import shapes, tensors


def _logsumexp_keepdim(x: torch.Tensor, dim: int) -> torch.Tensor:
    if x.numel() == 0:
        # amax refuses an empty reduced dimension; on empty input the naive form is exact
        # (-inf for an empty reduced dimension, an empty result otherwise).
        return torch.log(torch.exp(x).sum(dim, keepdim=True))
    m = x.amax(dim, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    return torch.log(torch.exp(x - m).sum(dim, keepdim=True)) + m


def _softmax(x: torch.Tensor, out: torch.Tensor, dim: int, keepdim: bool) -> torch.Tensor:
    """exp(x - out) = softmax(x) along dim, from the saved input and output (compute dtype)."""
    if not keepdim:
        out = out.unsqueeze(dim)
    return torch.exp(upcast(x) - upcast(out))


class LogSumExp(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, dim: int, keepdim: bool) -> torch.Tensor:
        out = _logsumexp_keepdim(upcast(x), dim)
        if not keepdim:
            out = out.squeeze(dim)
        return out.to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, dim, keepdim = inputs
        ctx.dim = dim % x.dim()
        ctx.keepdim = keepdim
        ctx.save_for_backward(x, output)
        ctx.save_for_forward(x, output)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        x, out = ctx.saved_tensors
        grad = upcast(grad_output)
        if not ctx.keepdim:
            grad = grad.unsqueeze(ctx.dim)
        return (grad * _softmax(x, out, ctx.dim, ctx.keepdim)).to(x.dtype), None, None

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor, dim_tangent: None, keepdim_tangent: None) -> torch.Tensor:
        x, out = ctx.saved_tensors
        weighted = _softmax(x, out, ctx.dim, ctx.keepdim) * upcast(x_tangent)
        return weighted.sum(ctx.dim, keepdim=ctx.keepdim).to(out.dtype)


def logsumexp_reference(x: torch.Tensor, dim: int, keepdim: bool) -> torch.Tensor:
    return torch.logsumexp(x, dim, keepdim=keepdim)


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    x = draw(tensors(dtype=dtype, device=device, shape=shapes(min_dims=1)))
    dim = draw(st.integers(min_value=-x.dim(), max_value=x.dim() - 1))
    keepdim = draw(st.booleans())
    return (x, dim, keepdim)


SPEC = FunctionSpec(name="logsumexp", function=LogSumExp.apply, reference=logsumexp_reference, args=_args)
