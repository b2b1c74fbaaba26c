"""Planted bugs in how a Function treats autograd's contract: what it saves and where, what it
mutates, which layouts and needs_input_grad subsets it assumes, whether it is deterministic.

Each class overrides one method of a correct Function (see ``twins.py``) with the bug alone.
"""

from __future__ import annotations

import torch

from funcs.affine import Affine, sum_to_shape
from funcs.square import Square
from tests.corpus.softplus_correct import Softplus


class SquareOnCtx(Square):
    @staticmethod
    def setup_context(ctx, inputs, output):
        (ctx.x,) = inputs  # kept as an attribute: autograd cannot see it modified

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * 2 * ctx.x


class SquareOutputOnCtx(Square):
    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.output = output  # unused, but a reference cycle that keeps the graph alive


class SquareMutatesGradOutput(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output.mul_(2).mul_(x)  # right value, caller's tensor clobbered


class SquareAssumesContiguousGrad(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        # reads grad_output's storage as if it were laid out like x
        dense = torch.as_strided(grad_output, x.shape, x.contiguous().stride(), grad_output.storage_offset())
        return dense * 2 * x


class SoftplusForwardInPlace(Softplus):
    @staticmethod
    def forward(x):
        x.clamp_(min=-30.0)  # "for stability": also clamps the caller's tensor
        return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))


class AffineCompactsGradients(Affine):
    @staticmethod
    def backward(ctx, grad_output):
        grads = Affine.backward(ctx, grad_output)
        present = [g for g in grads if g is not None]  # drops None placeholders: positions shift
        return tuple(present + [None] * (3 - len(present)))


def _random_order_sum_to_shape(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Reduce like sum_to_shape, but the leading reduced elements (every broadcast batch dimension,
    flattened) in a random order, as atomics do."""
    extra = grad.dim() - len(shape)
    if extra > 0:
        grad = grad.flatten(0, extra - 1) if extra > 1 else grad
    if grad.dim() > 0 and grad.shape[0] > 2 and (extra > 0 or shape[0] == 1):
        grad = grad[torch.randperm(grad.shape[0], device=grad.device)].cumsum(0)[-1:]
    return sum_to_shape(grad, shape)


class AffineNondeterministic(Affine):
    @staticmethod
    def backward(ctx, grad_output):
        w, x = ctx.saved_tensors
        return (
            _random_order_sum_to_shape(grad_output * x, w.shape),
            sum_to_shape(grad_output * w, x.shape),
            _random_order_sum_to_shape(grad_output, ctx.b_shape),
        )


class SquareScalesSlopeInPlace(Square):
    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.slope = 2 * x  # made in forward, so nothing else holds it

    @staticmethod
    def backward(ctx, grad_output):
        # "saves an allocation": scales the kept slope in place and returns it, so a second
        # backward over the same graph multiplies it again, and the first result changes with it
        return ctx.slope.mul_(grad_output)
