"""An external module as a user would write it: a linear layer in the classic style
(``forward(ctx, x, weight, bias)``, no ``setup_context``, no ``jvp``, no vmap rule), as PyTorch's
"Extending torch.autograd" tutorial writes it, and its spec.

``python -m autograd_props tests.corpus.linear_classic_correct`` must pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from autograd_props import FunctionSpec
from autograd_props.strategies import tensors


class ClassicLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x.mm(weight.t()) + bias

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(x)
        if ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_x, grad_weight, grad_bias


@st.composite
def linear_args(draw, dtype, device):
    """x of shape (batch, in), weight (out, in), bias (out,): a batch of 0 to 3 rows."""
    batch, in_features, out_features = draw(st.integers(0, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = draw(tensors(dtype=dtype, device=device, shape=(batch, in_features)))
    weight = draw(tensors(dtype=dtype, device=device, shape=(out_features, in_features)))
    bias = draw(tensors(dtype=dtype, device=device, shape=(out_features,)))
    return (x, weight, bias)


# The tutorial's x.mm(weight.t()) + bias rounds x @ W.T to the dtype before adding the bias: in
# float16, x = 511.75 times w = 258.5 overflows to inf there, and inf + (-inf) bias gives NaN where
# native's fused addmm (and the float64 truth) give -inf.  A real limit of the pattern, which the
# gate finds under the ci profile (extreme_values, float16); this pair times a run, so it says so.
OPT_OUTS = {"extreme_values": "x @ W.T overflows before the bias is added (float16: NaN where native's fused addmm gives -inf)"}

SPECS = [FunctionSpec(name="linear_classic", function=ClassicLinear.apply, reference=F.linear, args=linear_args, opt_outs=OPT_OUTS)]
