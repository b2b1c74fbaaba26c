"""Exp: e^x, saving its output (the derivative of exp is exp) rather than its input."""

from __future__ import annotations

import math

import torch

from autograd_props import FunctionSpec, elements, tensors


class Exp(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        # The output is enough for both derivatives; saving it (not x) means double backward
        # differentiates through this Function's own output, which is exactly exp's Hessian.
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return grad_output * out

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return x_tangent * out


def max_exp_arg(dtype: torch.dtype) -> float:
    """Largest |x| drawn: exp stays finite (and away from overflow) in ``dtype``."""
    return 0.9 * math.log(torch.finfo(dtype).max)


def _args(dtype: torch.dtype, device: torch.device):
    values = elements(dtype, max_abs=max_exp_arg(dtype))
    return tensors(dtype=dtype, device=device, elements_strategy=values).map(lambda x: (x,))


SPEC = FunctionSpec(name="exp", function=Exp.apply, reference=torch.exp, args=_args)
