"""Planted bugs in the values a Function computes: its forward or its backward is wrong.

Each class overrides one method of a correct Function (see ``twins.py``) with the bug alone.
"""

from __future__ import annotations

import torch

from funcs._opmath import upcast
from funcs.affine import Affine, sum_to_shape
from funcs.chunked_cross_entropy import CHUNK_ROWS, ChunkedCrossEntropy, loss_and_gradient
from funcs.exp import Exp
from funcs.layernorm import LayerNorm, _compute, _normalize
from funcs.linear import Linear
from funcs.logsumexp import LogSumExp
from funcs.relu import ReLU
from funcs.softmax import Softmax
from funcs.square import Square
from tests.corpus.softplus_correct import Softplus


class SquareSmallError(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x * (1 + 1e-5)  # below gradcheck's rtol of 1e-3


class SquareMissingFactor(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * x  # d(x^2)/dx is 2x


class ExpIgnoresGradOutput(Exp):
    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return out  # the local derivative, not the vector-Jacobian product: right only when g = 1


class AffineMeanReduction(Affine):
    @staticmethod
    def backward(ctx, grad_output):
        w, x = ctx.saved_tensors
        grad_w = grad_output * x
        extra = grad_w.dim() - w.dim()
        if extra:
            grad_w = grad_w.mean(dim=tuple(range(extra)))  # mean over the broadcast batch: 1/n too small
        return sum_to_shape(grad_w, w.shape), sum_to_shape(grad_output * w, x.shape), sum_to_shape(grad_output, ctx.b_shape)


class LinearTransposeMissing(Linear):
    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        grad_x, grad_w, grad_b = Linear.backward(ctx, grad_output)
        if grad_x is not None:
            grad_x = (upcast(grad_output) @ upcast(weight).T).to(x.dtype)  # W, not W.T: same shape when square
        return grad_x, grad_w, grad_b


class SoftmaxWrongDim(Softmax):
    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        y, g = upcast(y), upcast(grad_output)
        # sum(g * y) over the last dimension, whatever dim the softmax ran over
        return (y * (g - (g * y).sum(-1, keepdim=True) / y.sum(-1, keepdim=True))).to(grad_output.dtype), None


class SoftmaxMissingTerm(Softmax):
    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return (upcast(y) * upcast(grad_output)).to(y.dtype), None  # the diagonal only: - y * sum(g * y) lost


class LayerNormMissingTerm(LayerNorm):
    @staticmethod
    def backward(ctx, grad_output):
        _, grad_w, grad_b, _ = LayerNorm.backward(ctx, grad_output)
        grad_x = None
        if ctx.needs_input_grad[0]:
            x, weight = ctx.saved_tensors
            _, rstd = _normalize(_compute(x), ctx.eps)
            v = _compute(grad_output) * _compute(weight)
            grad_x = (rstd * (v - v.mean(-1, keepdim=True))).to(x.dtype)  # the variance's term dropped
        return grad_x, grad_w, grad_b, None


class ReLUKinkSubgradient(ReLU):
    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return torch.where(x >= 0, grad_output, torch.zeros_like(grad_output))  # 1 at the kink; native takes 0


class SoftplusNaive(Softplus):
    @staticmethod
    def forward(x):
        return torch.log1p(torch.exp(x))  # overflows for large x, where softplus is ~x


class LogSumExpUnshifted(LogSumExp):
    @staticmethod
    def forward(x, dim, keepdim):
        out = torch.log(torch.exp(upcast(x)).sum(dim, keepdim=keepdim))  # no max subtracted: overflows
        return out.to(x.dtype)


class SoftmaxTwoBugs(Softmax):
    """Two independent bugs: forward moves ``dim`` last with a permutation that only knows
    non-negative dims (a negative one crashes), and backward drops softmax's sum term."""

    @staticmethod
    def forward(x, dim):
        if x.dim() == 0:
            return torch.softmax(x, dim)
        order = [d for d in range(x.dim()) if d != dim] + [dim]
        inverse = sorted(range(x.dim()), key=order.__getitem__)
        return torch.softmax(x.permute(order), -1).permute(inverse)

    backward = SoftmaxMissingTerm.backward


class ChunkedCrossEntropyDropsPartialChunk(ChunkedCrossEntropy):
    @staticmethod
    def forward(ctx, logits, target):
        # one chunk per CHUNK_ROWS rows by floor division (at least one): past the first chunk,
        # the rows of a last, partial chunk are left out of the loss and get no gradient
        chunks = max(1, logits.shape[0] // CHUNK_ROWS)
        loss, grad = loss_and_gradient(logits, target, range(0, chunks * CHUNK_ROWS, CHUNK_ROWS))
        ctx.save_for_backward(grad)
        return loss
