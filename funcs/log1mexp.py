"""Log1mexp: log(1 - exp(-x)) for x > 0, an op torch does not have, so the spec has no reference.

Used for log-probabilities of "not this event" (survival terms, log-space complements).  Stable
on both sides of log 2, as in Maechler's note "Accurately computing log(1 - exp(-|a|))": for
small x, log(-expm1(-x)); for large x, log1p(-exp(-x)).  The derivative, 1 / expm1(x), is
written exp(-x) / -expm1(-x): it and its own derivative stay finite for large x, where expm1(x)
overflows (and inf / inf would make double backward NaN).  Modern style, with a jvp and a generated vmap rule; float16/bfloat16 compute in
float32 and round once.

``reference=None``: each dtype is compared with this Function's own float64 result, and float64
is judged by finite differences; the report marks the cells that have nothing to compare.
"""

from __future__ import annotations

import math

import torch

from autograd_props import FunctionSpec, elements, tensors
from funcs._opmath import upcast


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    small = x < math.log(2)
    # Both branches are evaluated; each is kept finite where it is not selected.
    near = torch.log(-torch.expm1(-torch.where(small, x, torch.ones_like(x))))
    far = torch.log1p(-torch.exp(-torch.where(small, torch.ones_like(x), x)))
    return torch.where(small, near, far)


def _slope(x: torch.Tensor) -> torch.Tensor:
    """d/dx log(1 - exp(-x)) = 1 / expm1(x), as exp(-x) / -expm1(-x)."""
    return torch.exp(-x) / -torch.expm1(-x)


class Log1mexp(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return _log1mexp(upcast(x)).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return (upcast(grad_output) * _slope(upcast(x))).to(grad_output.dtype)

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return (upcast(x_tangent) * _slope(upcast(x))).to(x_tangent.dtype)


def _args(dtype: torch.dtype, device: torch.device):
    # x > 0, the function's domain, from 2^-20 (below it 1/x^2, the second derivative, overflows
    # float32) up to the default bound.
    positive = elements(dtype, min_abs=max(2.0**-20, float(torch.finfo(dtype).tiny))).map(abs)
    return tensors(dtype=dtype, device=device, elements_strategy=positive).map(lambda x: (x,))


SPEC = FunctionSpec(name="log1mexp", function=Log1mexp.apply, reference=None, args=_args)
