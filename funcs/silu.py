"""SiLU (Swish), x * sigmoid(x), in the memory-efficient form: only the input is saved and
sigmoid is recomputed in backward.

Written out as ``x * sigmoid(x)`` under autograd, SiLU saves both x and sigmoid(x); this Function
saves x alone, half the memory.  Forward is the fused ``F.silu`` kernel.  A first-order backward
(grad mode off, the usual case) is the fused ``aten.silu_backward`` kernel, which recomputes
sigmoid from x in one pass; that kernel has no derivative of its own, so under ``create_graph``
(grad mode on) backward uses the differentiable formula instead -- the same split native
autograd makes for F.silu.  jvp always uses the differentiable formula, so forward mode nests.

The formula is stable for any finite x: sigmoid saturates to exactly 0 or 1 without overflow,
and the derivative is written as sigmoid(x) * (1 + x * sigmoid(-x)) so that ``1 - sigmoid(x)``
is never formed by cancellation; for large |x| one factor is exactly 0 or the product stays
bounded by |x|, so nothing overflows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autograd_props import FunctionSpec, tensors
from funcs._opmath import upcast


def _silu_derivative(x: torch.Tensor) -> torch.Tensor:
    """d/dx [x sigmoid(x)] = sigmoid(x) (1 + x (1 - sigmoid(x))), in x's compute dtype."""
    return torch.sigmoid(x) * (1 + x * torch.sigmoid(-x))


class SiLU(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return F.silu(x)  # the fused native kernel (the reference itself)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        if not torch.is_grad_enabled():  # first order: one fused pass, nothing to differentiate
            return torch.ops.aten.silu_backward(grad_output, x)
        return (upcast(grad_output) * _silu_derivative(upcast(x))).to(x.dtype)

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return (upcast(x_tangent) * _silu_derivative(upcast(x))).to(x.dtype)


def _args(dtype: torch.dtype, device: torch.device):
    return tensors(dtype=dtype, device=device).map(lambda x: (x,))


SPEC = FunctionSpec(name="silu", function=SiLU.apply, reference=F.silu, args=_args)
