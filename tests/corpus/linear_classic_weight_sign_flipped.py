"""An external module with a planted bug: the classic-style linear layer whose weight gradient has
its sign flipped.

``python -m autograd_props tests.corpus.linear_classic_weight_sign_flipped`` must fail with a shrunk
example.
"""

from __future__ import annotations

import torch.nn.functional as F

from autograd_props import FunctionSpec
from tests.corpus.linear_classic_correct import ClassicLinear, linear_args


class WeightSignFlippedLinear(ClassicLinear):
    @staticmethod
    def backward(ctx, grad_output):
        grad_x, grad_weight, grad_bias = ClassicLinear.backward(ctx, grad_output)
        return grad_x, None if grad_weight is None else -grad_weight, grad_bias


SPECS = [FunctionSpec(name="linear_classic", function=WeightSignFlippedLinear.apply, reference=F.linear, args=linear_args)]
