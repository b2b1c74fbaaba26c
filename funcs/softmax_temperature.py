"""softmax(x / temperature) along dim, called with keyword arguments:
``softmax_with_temperature(x, dim=1, temperature=0.5)``.

The temperature and dim are Python numbers, constants of the Function: backward returns None for
them.  Forward divides in the input's dtype and calls the fused softmax, as the reference does,
so both round alike; it saves only its output.  Backward is the softmax VJP from the saved
output by native's fused kernel, divided by the temperature (the chain rule through x / T).
jvp is the Jacobian applied to the tangent (it is symmetric): y * (t - sum(t * y)) / T.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from autograd_props import FunctionSpec, dims, keywords, tensors
from funcs.softmax import _softmax_jvp_like


class SoftmaxWithTemperature(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, dim: int, temperature: float) -> torch.Tensor:
        return torch.softmax(x / temperature, dim)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, dim, temperature = inputs
        ctx.dim = dim % max(x.dim(), 1)  # a 0-d tensor accepts dim 0 and -1
        ctx.temperature = temperature
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (y,) = ctx.saved_tensors
        return torch._softmax_backward_data(grad_output, y, ctx.dim, y.dtype) / ctx.temperature, None, None

    @staticmethod
    def jvp(ctx, x_tangent: torch.Tensor, dim_tangent: None, temperature_tangent: None) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return (_softmax_jvp_like(y, x_tangent, ctx.dim) / ctx.temperature).to(y.dtype)


def softmax_with_temperature(x: torch.Tensor, *, dim: int = -1, temperature: float = 1.0) -> torch.Tensor:
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return SoftmaxWithTemperature.apply(x, dim, temperature)


def softmax_with_temperature_reference(x: torch.Tensor, *, dim: int = -1, temperature: float = 1.0) -> torch.Tensor:
    return torch.softmax(x / temperature, dim)


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    x = draw(tensors(dtype=dtype, device=device))
    # Temperatures a distillation or sampling loop uses, sharpening (< 1) and flattening (> 1).
    options = draw(keywords(dim=dims(x.dim()), temperature=st.floats(0.1, 10.0)))
    return (x, options)


SPEC = FunctionSpec(
    name="softmax_temperature",
    function=softmax_with_temperature,
    reference=softmax_with_temperature_reference,
    args=_args,
    function_class=SoftmaxWithTemperature,
)
