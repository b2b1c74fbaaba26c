"""Square: the seed article's first custom Function, x ** 2, in the modern style."""

from __future__ import annotations

import torch

from autograd_props import FunctionSpec, tensors


class Square(torch.autograd.Function):
    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x * x

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        (x,) = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x


def _args(dtype: torch.dtype, device: torch.device):
    return tensors(dtype=dtype, device=device).map(lambda x: (x,))


SPEC = FunctionSpec(name="square", function=Square.apply, reference=torch.square, args=_args)
