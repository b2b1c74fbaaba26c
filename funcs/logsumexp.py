"""LogSumExp(x, dim, keepdim): log(sum(exp(x), dim)), stable for large magnitudes.

Forward subtracts the row maximum before exponentiating (a +-inf maximum is replaced by 0, as
torch.logsumexp does, so an all -inf row gives -inf rather than NaN).  Backward and jvp use only
the saved input and output: the gradient is softmax(x) = exp(x - out), normalised by its own
sum (see ``_softmax``).  float16/bfloat16 compute in float32 and round once.

Matches torch.logsumexp at the edges: an empty reduced dimension gives -inf (log of an empty
sum), with an empty gradient and a NaN tangent; an all -inf row gives -inf with a NaN gradient
and tangent.  Native autograd gives the same values there.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from autograd_props import FunctionSpec, shapes, tensors
from funcs._opmath import LOW_PRECISION, upcast


def _logsumexp_keepdim(x: torch.Tensor, dim: int) -> torch.Tensor:
    if x.numel() == 0:
        # amax refuses an empty reduced dimension; on empty input the naive form is exact
        # (-inf for an empty reduced dimension, an empty result otherwise).
        return torch.log(torch.exp(x).sum(dim, keepdim=True))
    m = x.amax(dim, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    # In place on the temporaries (forward runs without grad): one full-size buffer, not two.
    return (x - m).exp_().sum(dim, keepdim=True).log_().add_(m)


def _softmax(x: torch.Tensor, out: torch.Tensor, dim: int, keepdim: bool) -> torch.Tensor:
    """softmax(x) along dim from the saved input and output, in the compute dtype.

    exp(x - out) is softmax(x) exactly when out is exact; for float16/bfloat16, dividing by its
    own sum removes the rounding of the saved low-precision out (a common factor
    exp(out_exact - out) that is up to |out| * eps / 2 away from 1).  Mathematically the
    division is by 1 and out cancels, so the derivatives are softmax's.  A NaN sum (a slice
    holding +inf, or all -inf) is left unnormalised, so the gradient is native's there: NaN
    where x - out is NaN, 0 elsewhere.  float32/float64 skip the division (a sum and a division
    over the whole input): there out is rounded at the compute precision, and exp(x - out) is
    exactly native's own gradient formula.
    """
    if not keepdim:
        out = out.unsqueeze(dim)
    # exp_ in place on the fresh difference, as native does: autograd allows it (sub saves
    # nothing), so double backward still sees exp's derivative.
    weights = (upcast(x) - upcast(out)).exp_()
    if x.dtype not in LOW_PRECISION:
        return weights
    total = weights.sum(dim, keepdim=True)
    return weights / torch.where(torch.isnan(total), torch.ones_like(total), total)


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
        outk = out if ctx.keepdim else out.unsqueeze(ctx.dim)
        weights = torch.exp(upcast(x) - upcast(outk))
        # sum(w t) / sum(w): the weighted mean of the tangent.  Written as a quotient (not with
        # _softmax's normalised weights) so that an empty reduced dimension gives 0 / 0 = NaN,
        # as native's logsumexp jvp does, rather than an empty sum's 0.
        tangent = (weights * upcast(x_tangent)).sum(ctx.dim, keepdim=ctx.keepdim)
        return (tangent / weights.sum(ctx.dim, keepdim=ctx.keepdim)).to(out.dtype)


def logsumexp_reference(x: torch.Tensor, dim: int, keepdim: bool) -> torch.Tensor:
    return torch.logsumexp(x, dim, keepdim=keepdim)


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    x = draw(tensors(dtype=dtype, device=device, shape=shapes(min_dims=1)))
    dim = draw(st.integers(min_value=-x.dim(), max_value=x.dim() - 1))
    keepdim = draw(st.booleans())
    return (x, dim, keepdim)


SPEC = FunctionSpec(name="logsumexp", function=LogSumExp.apply, reference=logsumexp_reference, args=_args)
