"""Complex absolute value, ``|z|``: complex input, real output.

Under PyTorch's convention the gradient of a real function of ``z`` is ``dL/dx + i dL/dy``; for
``|z|`` that is ``grad_output * z / |z|`` (``torch.sgn(z)``), and 0 at ``z = 0``, where native
torch takes 0 too.  Taking the Wirtinger derivative ``conj(z) / |z|`` instead is the
complex-to-real form of the missing-``conj()`` bug.  ``|z|`` is computed by ``torch.abs``
(hypot: no overflow of ``x**2 + y**2``), and the jvp is ``Re(conj(sgn(z)) * dz)``.
"""

from __future__ import annotations

import torch

from autograd_props import COMPLEX_DTYPES, FunctionSpec, tensors


class ComplexAbs(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(z: torch.Tensor) -> torch.Tensor:
        return z.abs()

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        (z,) = inputs
        ctx.save_for_backward(z)
        ctx.save_for_forward(z)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        (z,) = ctx.saved_tensors
        return grad_output * torch.sgn(z)

    @staticmethod
    def jvp(ctx, z_tangent: torch.Tensor) -> torch.Tensor:
        (z,) = ctx.saved_tensors
        return (torch.sgn(z).conj() * z_tangent).real


def _args(dtype: torch.dtype, device: torch.device):
    return tensors(dtype=dtype, device=device).map(lambda z: (z,))


SPEC = FunctionSpec(name="complex_abs", function=ComplexAbs.apply, reference=torch.abs, args=_args, dtypes=COMPLEX_DTYPES)
