"""GradReverse(x, alpha): the gradient-reversal layer (domain-adversarial training).

Forward is the identity; backward is -alpha times the incoming gradient, and jvp -alpha times
the tangent: an intentional surrogate, so the spec declares it and the finite-difference
property (which would compare against the identity's derivative) is skipped.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from autograd_props import FunctionSpec, tensors


class GradReverse(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        _, alpha = inputs
        ctx.alpha = alpha  # a Python float; no tensor is needed by backward or jvp

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        # -alpha as a tensor of grad_output's dtype: torch 2.1's forward AD of a 0-d float32
        # tensor times a Python float gives a float64 tangent (seen by double_backward).  Made by
        # torch.full, not new_tensor, which 2.1's torch.func wrappers refuse ("FuncTorchGradWrapper").
        alpha = torch.full((), -ctx.alpha, dtype=grad_output.dtype, device=grad_output.device)
        return grad_output * alpha, None

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor, alpha_tangent: None) -> torch.Tensor:
        return x_tangent * (-ctx.alpha)


def grad_reverse_reference(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """The same surrogate in native ops: value x, derivative -alpha (reverse and forward mode).

    ``z - z.detach()`` is exactly 0 in value and carries derivative 1, so the result's value is
    ``x + (-alpha) * 0 == x`` exactly while every derivative flows through ``-alpha``.  ``z`` is
    x with its non-finite elements zeroed, because ``inf - inf`` would make the value NaN; at
    those elements the reference's derivative is 0 rather than -alpha (no native op has a finite
    value and a derivative of 1 at an infinite input).

    ``torch.add(..., alpha=)`` rather than ``(-alpha) * (...)``: in torch 2.13, torch.func.jvp of
    a Python scalar times a 0-d float32/float16 tensor returns a float64 tangent.
    """
    detached = x.detach()
    z = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
    return torch.add(detached, z - z.detach(), alpha=-alpha)


def _args(dtype: torch.dtype, device: torch.device):
    return st.tuples(tensors(dtype=dtype, device=device), st.floats(0.1, 2.0))


SPEC = FunctionSpec(
    name="grad_reverse",
    function=GradReverse.apply,
    reference=grad_reverse_reference,
    args=_args,
    surrogate_gradient="gradient reversal: backward is -alpha times the identity's gradient by design",
)
