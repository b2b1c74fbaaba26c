"""An external module with a planted bug: Softplus whose backward has the sign flipped.

``pytest --funcs tests.corpus.softplus_sign_flipped`` must fail with a shrunk example.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autograd_props import FunctionSpec
from tests.corpus.softplus_correct import Softplus, softplus_args


class SignFlippedSoftplus(Softplus):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return -grad_output * torch.sigmoid(x)


SPECS = [FunctionSpec(name="softplus", function=SignFlippedSoftplus.apply, reference=F.softplus, args=softplus_args)]
