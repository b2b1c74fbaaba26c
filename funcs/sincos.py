"""SinCos: two outputs, sin(x) and cos(x), from one pass; a loss may use either alone.

``ctx.set_materialize_grads(False)``: when a loss uses only one output, autograd passes None,
not a tensor of zeros, for the other's cotangent, and backward skips that term instead of
multiplying zeros.  Modern style, with a jvp and a generated vmap rule; backward is written in
differentiable ops on the saved input, so double backward works.
"""

from __future__ import annotations

import torch

from autograd_props import FunctionSpec, tensors


class SinCos(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.sin(x), torch.cos(x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        (x,) = inputs
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx, grad_sin: torch.Tensor | None, grad_cos: torch.Tensor | None) -> torch.Tensor | None:
        (x,) = ctx.saved_tensors
        grad = None
        if grad_sin is not None:
            grad = grad_sin * torch.cos(x)
        if grad_cos is not None:
            term = -grad_cos * torch.sin(x)
            grad = term if grad is None else grad + term
        return grad

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        (x,) = ctx.saved_tensors
        return x_tangent * torch.cos(x), -x_tangent * torch.sin(x)


def sincos_reference(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.sin(x), torch.cos(x)


def _args(dtype: torch.dtype, device: torch.device):
    return tensors(dtype=dtype, device=device).map(lambda x: (x,))


SPEC = FunctionSpec(name="sincos", function=SinCos.apply, reference=sincos_reference, args=_args)
