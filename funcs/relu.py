"""ReLU: max(x, 0), saving its output.

At the kink x = 0 the gradient is 0, as native autograd gives.  Backward and jvp are
``aten.threshold_backward(v, out, 0)``, the kernel native relu's backward uses: it zeroes v where
the output is <= 0 and passes it elsewhere (a NaN output included), in one pass.  It selects
rather than multiplies by a mask, so a NaN/inf v does not turn into NaN where the gradient is
0.  It is differentiable (in v: itself; in out: zero), so double backward and nested forward
mode work.
"""

from __future__ import annotations

import torch

from autograd_props import FunctionSpec, tensors


def _pass_where_positive(out: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.threshold_backward(v, out, 0)


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
