"""Planted bugs in complex Functions: the missing ``conj()`` of PyTorch's conjugate-Wirtinger
convention, in a complex-to-complex and a complex-to-real Function.

Each class overrides one method of a correct built-in Function with the bug alone.
"""

from __future__ import annotations

import torch

from funcs.affine import sum_to_shape
from funcs.complex_abs import ComplexAbs
from funcs.complex_mul import ComplexMul


class ComplexMulMissingConj(ComplexMul):
    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        # d(ab)/da = b, but PyTorch's gradient is grad * conj(b): right only where b is real.
        grad_a = sum_to_shape(grad_output * b, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = sum_to_shape(grad_output * a, b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class ComplexAbsWirtinger(ComplexAbs):
    @staticmethod
    def backward(ctx, grad_output):
        (z,) = ctx.saved_tensors
        # The Wirtinger derivative d|z|/dz = conj(z) / (2|z|), doubled: PyTorch wants z / |z|.
        return grad_output * torch.sgn(z).conj()
