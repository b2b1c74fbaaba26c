"""Complex multiply, ``a * b`` of broadcastable complex tensors, with its gradient under PyTorch's
conjugate-Wirtinger convention.

For a real loss L, PyTorch's gradient with respect to ``z`` is ``dL/dx + i dL/dy``, which for a
holomorphic ``f`` is ``grad_output * conj(f'(z))``: the gradient of ``a`` is ``grad * conj(b)``,
not ``grad * b``.  Forgetting the ``conj()`` is the classic complex-gradient bug, right whenever
``b`` is real and wrong otherwise.  Each gradient is reduced to its input's shape, as in
``funcs/affine.py``.  The jvp is the product rule (holomorphic: no conjugates).
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from autograd_props import COMPLEX_DTYPES, FunctionSpec, broadcastable_shapes, tensors
from funcs.affine import sum_to_shape


class ComplexMul(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        a, b = inputs
        ctx.save_for_backward(a, b)
        ctx.save_for_forward(a, b)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        a, b = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = sum_to_shape(grad_output * b.conj(), a.shape)
        if ctx.needs_input_grad[1]:
            grad_b = sum_to_shape(grad_output * a.conj(), b.shape)
        return grad_a, grad_b

    @staticmethod
    def jvp(ctx, a_tangent: torch.Tensor, b_tangent: torch.Tensor) -> torch.Tensor:
        a, b = ctx.saved_tensors
        return a_tangent * b + a * b_tangent


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    shapes = draw(broadcastable_shapes(2))
    return tuple(draw(tensors(dtype=dtype, device=device, shape=shape)) for shape in shapes)


SPEC = FunctionSpec(name="complex_mul", function=ComplexMul.apply, reference=torch.mul, args=_args, dtypes=COMPLEX_DTYPES)
