"""Planted bugs in what a Function claims beyond first-order backward: double backward, forward
mode (jvp) and vmap.

Each class overrides one method of a correct Function (see ``twins.py``) with the bug alone.
"""

from __future__ import annotations

import torch

from funcs.square import Square
from tests.corpus.real_style_twins import ClassicSoftplusNumpyJvp, numpy_sigmoid
from tests.corpus.softplus_correct import Softplus


class SquareDetachesSaved(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x.detach()  # first order right, second order silently zero


class SoftplusSavesSigmoid(Softplus):
    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(torch.sigmoid(x))  # an intermediate: neither input nor output
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx, grad_output):
        (sigmoid_x,) = ctx.saved_tensors
        return grad_output * sigmoid_x


class SoftplusWrongJvp(Softplus):
    @staticmethod
    def jvp(ctx, x_tangent):
        (x,) = ctx.saved_tensors
        return x_tangent * torch.sigmoid(-x)  # sign inside the sigmoid lost


class ClassicSoftplusNumpyJvpNotDetached(ClassicSoftplusNumpyJvp):
    @staticmethod
    def jvp(ctx, x_tangent):
        (x,) = ctx.saved_tensors
        # .numpy() raises on x when the inputs also require grad (the twin detaches first)
        return x_tangent * torch.from_numpy(numpy_sigmoid(x)).to(x)


class SoftplusWrongVmapRule(Softplus):
    generate_vmap_rule = False

    @staticmethod
    def vmap(info, in_dims, x):
        # moves the batch dimension last but reports it at 0
        return Softplus.apply(x.movedim(in_dims[0], -1)), 0


class _Sigmoid(torch.autograd.Function):
    """A sigmoid with a backward and a vmap rule but no jvp: fine for double backward and vmap,
    not for forward mode."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x):
        return torch.sigmoid(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * y * (1 - y)


class SoftplusBackwardWithoutForwardMode(Softplus):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        # A helper Function without a jvp inside backward: double backward works, and so does
        # forward mode of the Function itself (its own jvp), but the Hessian by jacfwd(jacrev)
        # -- forward mode through backward -- raises.
        return grad_output * _Sigmoid.apply(x)
