"""LayerNorm(x, weight, bias, eps) over the last dimension, as F.layer_norm with
normalized_shape = (x.shape[-1],).

Only x and weight are saved.  Forward is the native layer-norm kernel.

A first-order backward (grad mode off, the usual case) of float32/float16/bfloat16 is the native
kernels: it recomputes mean and rstd from x with ``aten.native_layer_norm`` -- the same kernel as
forward, so exactly the values forward had -- and hands them to
``aten.native_layer_norm_backward``; the result is native's own gradient, at the cost of one
more forward pass in exchange for not saving them.  float64 keeps the float64 formula below:
there native's kernel is less exact than float64 rounding (at a last dimension of 1, where x_hat
is exactly 0, it leaves ~6e-14 in grad_w: the rounding of the mean times rstd = 1/sqrt(eps)).

Under ``create_graph`` (grad mode on), for float64, and in jvp, backward recomputes mean, rstd
and x_hat from x with differentiable ops: saving those intermediates would make double backward
silently wrong, because autograd could not see how they depend on x.  That path computes in
float64 (float32 on MPS, which has no float64) and rounds once.  float32 arithmetic is not
enough there: where var >> eps the x-gradient is eps-small, while it is computed as a difference
of terms of size |g w| (for a last dimension of 2 the Jacobian is exactly
eps * rstd^3 * (I - 1/2) diag(w), all of it cancellation).  The rounding error there is about
u * |g w| * rstd, no better than native's own, so point by point it is sometimes worse than
native's; in float64 it is negligible at every precision this suite checks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from autograd_props import FunctionSpec, shapes, tensors
from autograd_props.sizes import current_sizes


def _compute(t: torch.Tensor) -> torch.Tensor:
    """``t`` in the dtype LayerNorm computes in (see the module docstring)."""
    return t.float() if t.device.type == "mps" else t.double()


def _normalize(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_hat, rstd) over the last dimension, with the biased variance (two-pass, for accuracy)."""
    centered = x - x.mean(-1, keepdim=True)
    var = (centered * centered).mean(-1, keepdim=True)
    rstd = torch.rsqrt(var + eps)
    return centered * rstd, rstd


def _normalize_jvp(x_hat: torch.Tensor, rstd: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The Jacobian of x -> x_hat applied to v: rstd * (v - mean(v) - x_hat * mean(x_hat * v)).

    The same expression is its transpose applied to a cotangent (the Jacobian is symmetric).
    """
    return rstd * (v - v.mean(-1, keepdim=True) - x_hat * (x_hat * v).mean(-1, keepdim=True))


def _native_backward(ctx, x, weight, grad_output, n: int, rows: int):
    needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
    grad_x = grad_w = grad_b = None
    # The kernel reads bias only for grad_b's shape, dtype and device (a gradient with respect
    # to a bias never depends on its value); weight has bias's shape, so it stands in when the
    # dtypes agree.  Otherwise grad_b is summed here.
    template = weight if ctx.bias_dtype == weight.dtype else None
    kernel_b = needs_b and template is not None
    if needs_x or needs_w or kernel_b:
        _, mean, rstd = torch.native_layer_norm(x, (n,), weight, None, ctx.eps)
        grad_x, grad_w, grad_b = torch.ops.aten.native_layer_norm_backward(
            grad_output, x, (n,), mean, rstd, weight, template, [needs_x, needs_w, kernel_b]
        )
    if needs_b and not kernel_b:
        grad_b = grad_output.reshape(rows, n).sum(0).to(ctx.bias_dtype)
    return grad_x, grad_w, grad_b, None


class LayerNorm(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, weight, bias, eps = inputs
        ctx.eps = eps
        ctx.bias_dtype = bias.dtype
        ctx.save_for_backward(x, weight)
        ctx.save_for_forward(x, weight)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        x, weight = ctx.saved_tensors
        n = x.shape[-1]
        rows = math.prod(x.shape[:-1])  # explicit: reshape cannot infer -1 for an empty batch
        if not torch.is_grad_enabled() and x.dtype != torch.float64:  # native's kernels (module docstring)
            return _native_backward(ctx, x, weight, grad_output, n, rows)
        grad = _compute(grad_output)
        x_hat, rstd = _normalize(_compute(x), ctx.eps)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _normalize_jvp(x_hat, rstd, grad * _compute(weight)).to(x.dtype)
        if ctx.needs_input_grad[1]:
            grad_w = (grad * x_hat).reshape(rows, n).sum(0).to(weight.dtype)
        if ctx.needs_input_grad[2]:
            grad_b = grad.reshape(rows, n).sum(0).to(ctx.bias_dtype)
        return grad_x, grad_w, grad_b, None

    @staticmethod
    def jvp(ctx, x_tangent, weight_tangent, bias_tangent, eps_tangent: None) -> torch.Tensor:
        x, weight = ctx.saved_tensors
        x_hat, rstd = _normalize(_compute(x), ctx.eps)
        tangent = torch.zeros_like(x_hat)  # the output's shape, so a bias-only tangent broadcasts
        if x_tangent is not None:
            tangent = tangent + _normalize_jvp(x_hat, rstd, _compute(x_tangent)) * _compute(weight)
        if weight_tangent is not None:
            tangent = tangent + x_hat * _compute(weight_tangent)
        if bias_tangent is not None:
            tangent = tangent + _compute(bias_tangent)
        return tangent.to(x.dtype)


def layernorm_reference(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    if current_sizes().large:  # the large profile: up to a million elements, rows of up to that many
        *batch, n = draw(shapes(min_dims=1, max_dims=3, min_side=1))
        batch = tuple(batch)
    else:
        n = draw(st.integers(1, 4))
        batch = draw(shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
    x = draw(tensors(dtype=dtype, device=device, shape=batch + (n,)))
    weight = draw(tensors(dtype=dtype, device=device, shape=(n,)))
    bias = draw(tensors(dtype=dtype, device=device, shape=(n,)))
    eps = draw(st.sampled_from((1e-5, 1e-3, 0.1)))
    return (x, weight, bias, eps)


SPEC = FunctionSpec(
    name="layernorm",
    function=LayerNorm.apply,
    reference=layernorm_reference,
    args=_args,
    opt_outs={
        # Beyond the square root of the dtype's maximum the variance overflows even in float64
        # (x near 1.6e308): native's weight gradient comes out a finite but wrong 0 and this
        # Function's NaN.  Passing needs a variance computed on x scaled by max|x|.  The ordinary
        # range, NaN and inf included, is still checked by special_values.
        "extreme_values": "beyond sqrt(max) the variance overflows (even in float64 near 1.6e308): native F.layer_norm "
        "returns NaN or a wrong finite gradient there, and this Function returns NaN",
    },
)
