"""Linear(x, W, b): x @ W.T + b, x of shape (*, in) with 0 to 2 leading batch dimensions.

grad_W and grad_b are summed over every batch dimension (the batch dimensions are flattened
into one, so an empty batch gives zero gradients).  Only x and W are saved: b's gradient does
not depend on any value.  float16/bfloat16 accumulate in float64 and round once (see
``widen``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from autograd_props import FunctionSpec, shapes, tensors
from autograd_props.large_tensors import MAX_NUMEL, boundary_sides
from autograd_props.sizes import current_sizes
from funcs._opmath import LOW_PRECISION


def widen(t: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 accumulate in float64 (float32 on MPS, which has none), rounding once.

    float32 accumulation overflows where the true sum and native's result are finite: in bfloat16,
    products near 1.7e38 summed in float32 gave -inf for a gradient of -1.7e38 (found by the soak).
    float32 and float64 compute in their own dtype.
    """
    if t.dtype not in LOW_PRECISION:
        return t
    return t.float() if t.device.type == "mps" else t.double()


class Linear(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return (widen(x) @ widen(weight).T + widen(bias)).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, weight, bias = inputs
        ctx.bias_dtype = bias.dtype
        ctx.save_for_backward(x, weight)
        ctx.save_for_forward(x, weight)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        x, weight = ctx.saved_tensors
        out_features, in_features = weight.shape
        grad = widen(grad_output)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad @ widen(weight)).to(x.dtype)
        # One flattened batch dimension: (N, out) and (N, in), N = product of the batch sides
        # (given explicitly: reshape cannot infer a -1 side of an empty tensor, e.g. under vmap).
        n = math.prod(grad.shape[:-1])
        flat_grad = grad.reshape(n, out_features)
        if ctx.needs_input_grad[1]:
            grad_w = (flat_grad.T @ widen(x).reshape(n, in_features)).to(weight.dtype)
        if ctx.needs_input_grad[2]:
            grad_b = flat_grad.sum(0).to(ctx.bias_dtype)
        return grad_x, grad_w, grad_b

    @staticmethod
    def jvp(ctx, x_tangent, weight_tangent, bias_tangent) -> torch.Tensor:
        x, weight = ctx.saved_tensors
        xc, wc = widen(x), widen(weight)
        out_shape = x.shape[:-1] + weight.shape[:1]
        # Start from zeros of the output's shape so a bias-only tangent is broadcast to it.
        tangent = torch.zeros(out_shape, dtype=xc.dtype, device=x.device)
        if x_tangent is not None:
            tangent = tangent + widen(x_tangent) @ wc.T
        if weight_tangent is not None:
            tangent = tangent + xc @ widen(weight_tangent).T
        if bias_tangent is not None:
            tangent = tangent + widen(bias_tangent)
        return tangent.to(x.dtype)


def linear_reference(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.linear(x, weight, bias)


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    if current_sizes().large:  # the large profile: x, weight and the output each up to a million elements
        *batch, in_features = draw(shapes(min_dims=1, max_dims=3, min_side=1))
        rows = math.prod(batch)
        out_features = draw(boundary_sides(max_side=max(1, MAX_NUMEL // max(rows, in_features)), min_side=1))
        batch = tuple(batch)
    else:
        in_features = draw(st.integers(1, 4))
        out_features = draw(st.integers(1, 4))
        batch = draw(shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
    x = draw(tensors(dtype=dtype, device=device, shape=batch + (in_features,)))
    weight = draw(tensors(dtype=dtype, device=device, shape=(out_features, in_features)))
    bias = draw(tensors(dtype=dtype, device=device, shape=(out_features,)))
    return (x, weight, bias)


SPEC = FunctionSpec(
    name="linear",
    function=Linear.apply,
    reference=linear_reference,
    args=_args,
    opt_outs={
        # Found by the soak (seed 2224793223): x = W = 1.01 * sqrt(max) and b = -inf give
        # inf + -inf = NaN here, where the true output is -inf.  Native F.linear's answer there
        # depends on its BLAS path: -inf for a 2x3 output, NaN for 1x1, both in float64.  The
        # ordinary range, NaN and inf included, is still checked by special_values.
        "extreme_values": "beyond sqrt(max) a product x*W overflows before the bias is added (inf + -inf = NaN where "
        "the true output is -inf), as native F.linear's does on some BLAS paths and not on others",
    },
)
