"""An external module as a user would write it: a correct Softplus Function and its spec.

``pytest --funcs tests.corpus.softplus_correct`` must pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autograd_props import FunctionSpec
from autograd_props.strategies import tensors


class Softplus(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        # log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
        return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.sigmoid(x)

    @staticmethod
    def jvp(ctx, x_tangent):
        (x,) = ctx.saved_tensors
        return x_tangent * torch.sigmoid(x)


def softplus_args(dtype, device):
    return tensors(dtype=dtype, device=device).map(lambda x: (x,))


SPECS = [FunctionSpec(name="softplus", function=Softplus.apply, reference=F.softplus, args=softplus_args)]
