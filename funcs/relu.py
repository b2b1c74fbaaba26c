"""ReLU: max(x, 0), saving its output.

At the kink x = 0 the gradient is 0, as native autograd's threshold_backward gives: it zeroes
the gradient where the output is <= 0 and passes it elsewhere (a NaN output included).
``torch.where`` rather than a multiplication by a mask keeps a NaN/inf grad_output from turning
into NaN where the gradient is 0, also like native.
"""

from __future__ import annotations

import torch

from funcs.spec import FunctionSpec
from properties.strategies import tensors


def _pass_where_positive(out: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.where(out <= 0, torch.zeros_like(v), v)


class ReLU(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x.clamp_min(0)  # clamp propagates NaN, as torch.relu does

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return _pass_where_positive(out, grad_output)

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return _pass_where_positive(out, x_tangent)


def _args(dtype: torch.dtype, device: torch.device):
    # The default elements include exact zeros, so the kink itself is drawn.
    return tensors(dtype=dtype, device=device).map(lambda x: (x,))


SPEC = FunctionSpec(name="relu", function=ReLU.apply, reference=torch.relu, args=_args)
