"""An external module with a planted bug: the classic-style linear layer whose weight gradient has
its sign flipped.

``python -m autograd_props tests.corpus.linear_classic_weight_sign_flipped`` must fail with a shrunk
example.
"""

from __future__ import annotations

import torch.nn.functional as F

from autograd_props import FunctionSpec
from tests.corpus.linear_classic_correct import OPT_OUTS, ClassicLinear, linear_args


class WeightSignFlippedLinear(ClassicLinear):
    # Written out rather than calling ClassicLinear.backward: torch.compile refuses a backward
    # that calls another Function's backward, which would fail the compile cell for that instead.
    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = -grad_output.t().mm(x)
        if ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_x, grad_weight, grad_bias


SPECS = [
    FunctionSpec(name="linear_classic", function=WeightSignFlippedLinear.apply, reference=F.linear, args=linear_args, opt_outs=OPT_OUTS)
]
