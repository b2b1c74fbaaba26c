"""Planted bugs in torch.library custom ops (torch 2.4+): each op is the built-in
``autograd_props_funcs::silu`` (funcs/silu_op.py) registered again under its own name with one
registration wrong.  ``OPS`` is empty on a torch without ``torch.library.custom_op``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from funcs._opmath import upcast
from funcs.silu_op import save_input, silu_backward, silu_fake, silu_kernel

OPS: dict[str, object] = {}


def _register(name: str, kernel=silu_kernel, *, fake=silu_fake, backward=silu_backward) -> None:
    op = torch.library.custom_op(f"autograd_props_corpus::{name}", kernel, mutates_args=())
    op.register_fake(fake)
    op.register_autograd(backward, setup_context=save_input)
    OPS[name] = op


def _backward_sigmoid_only(ctx, grad_output: torch.Tensor) -> torch.Tensor:
    (x,) = ctx.saved_tensors
    # The derivative of x * sigmoid(x) taken as sigmoid(x): the product rule's second term is lost.
    return (upcast(grad_output) * torch.sigmoid(upcast(x))).to(x.dtype)


def _fake_contiguous(x: torch.Tensor) -> torch.Tensor:
    # torch.empty, not empty_like: always contiguous, while the kernel's output follows x's layout.
    return torch.empty(x.shape, dtype=x.dtype, device=x.device)


def _silu_sanitizing_input(x: torch.Tensor) -> torch.Tensor:
    # NaNs replaced in the caller's tensor to save a copy; mutates_args=() does not say so, and
    # torch.compile, which trusts the schema, may reorder or drop the write.
    x.nan_to_num_(nan=0.0)
    return F.silu(x)


if hasattr(torch.library, "custom_op"):
    _register("silu_wrong_backward", backward=_backward_sigmoid_only)
    _register("silu_contiguous_fake", fake=_fake_contiguous)
    _register("silu_undeclared_mutation", _silu_sanitizing_input)
