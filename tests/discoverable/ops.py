"""A torch.library custom op with its autograd registered, and a Function that calls NumPy."""

import numpy as np
import torch


@torch.library.custom_op("discoverable::cube", mutates_args=())
def cube(x: torch.Tensor) -> torch.Tensor:
    return x * x * x


@cube.register_fake
def _(x):
    return torch.empty_like(x)


def _cube_setup(ctx, inputs, output):
    (x,) = inputs
    ctx.save_for_backward(x)


def _cube_backward(ctx, grad_output):
    (x,) = ctx.saved_tensors
    return grad_output * 3 * x * x


cube.register_autograd(_cube_backward, setup_context=_cube_setup)


class NumpySin(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.from_numpy(np.sin(x.detach().cpu().numpy().astype(np.float64))).to(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.cos(x)


class PackedSum(torch.autograd.Function):
    """Takes its tensors as *args: discovery cannot read its arguments from the signature."""

    @staticmethod
    def forward(ctx, *tensors):
        ctx.count = len(tensors)
        return sum(tensors)

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output,) * ctx.count
