"""SiLU as a ``torch.library`` custom op (torch 2.4+): the way PyTorch now recommends giving a
kernel a gradient that also works under torch.compile.

The op ``autograd_props_funcs::silu`` registers what the suite reads its claims from: a fake
implementation (shapes and strides without values, for torch.compile and meta tensors), an
autograd formula (saves only x, like ``funcs/silu.py``; its backward is written in
differentiable torch ops, so double backward works), and a vmap rule (elementwise: the batch
dimension passes straight through).  Forward-mode AD cannot be registered for a custom op.
On a torch without ``torch.library.custom_op`` the module defines no spec and says so.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from autograd_props import FunctionSpec, tensors
from funcs._opmath import upcast
from funcs.silu import _silu_derivative


def silu_kernel(x: torch.Tensor) -> torch.Tensor:
    return F.silu(x)


def silu_fake(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)  # elementwise: the kernel's output follows x's layout


def save_input(ctx, inputs, output) -> None:
    (x,) = inputs
    ctx.save_for_backward(x)


def silu_backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
    (x,) = ctx.saved_tensors
    return (upcast(grad_output) * _silu_derivative(upcast(x))).to(x.dtype)


def _args(dtype: torch.dtype, device: torch.device):
    return tensors(dtype=dtype, device=device).map(lambda x: (x,))


SPEC: FunctionSpec | None = None

if hasattr(torch.library, "custom_op"):
    silu = torch.library.custom_op("autograd_props_funcs::silu", silu_kernel, mutates_args=())
    silu.register_fake(silu_fake)
    silu.register_autograd(silu_backward, setup_context=save_input)

    @silu.register_vmap
    def _silu_vmap(info, in_dims, x: torch.Tensor):
        return silu(x), in_dims[0]  # elementwise: the batch dimension passes through

    SPEC = FunctionSpec(name="silu_op", function=silu, reference=F.silu, args=_args)
else:
    warnings.warn(
        f"funcs.silu_op: torch {torch.__version__} has no torch.library.custom_op (torch 2.4+): the built-in custom op is not checked",
        stacklevel=1,
    )
