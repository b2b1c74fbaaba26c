"""Planted bugs in the kinds of Function beyond one floating tensor in, one out: several outputs,
integer outputs, index arguments, keyword arguments, in place.

Each class overrides one method of a correct built-in Function with the bug alone.
"""

from __future__ import annotations

import torch

from funcs._opmath import upcast
from funcs.embedding import Embedding
from funcs.log1mexp import Log1mexp
from funcs.scale_in_place import ScaleInPlace
from funcs.sincos import SinCos
from funcs.sort import Sort
from tests.corpus.real_style_twins import LogSoftmaxTemperature, SquareKernel


class SinCosAssumesBothGrads(SinCos):
    @staticmethod
    def backward(ctx, grad_sin, grad_cos):
        (x,) = ctx.saved_tensors
        # Right whenever a loss uses both outputs; under set_materialize_grads(False) a loss of one
        # output alone passes None for the other, and this raises.
        return grad_sin * torch.cos(x) - grad_cos * torch.sin(x)


class SinCosAssertsBothGrads(SinCos):
    """ASSUMES_BOTH_GRADS's bug written as public code often writes it: a bare ``assert``, whose
    AssertionError says nothing (tests/test_unused_outputs.py checks the failure still does)."""

    @staticmethod
    def backward(ctx, grad_sin, grad_cos):
        (x,) = ctx.saved_tensors
        assert grad_sin is not None and grad_cos is not None
        return grad_sin * torch.cos(x) - grad_cos * torch.sin(x)


class SinCosDropsCosTerm(SinCos):
    @staticmethod
    def backward(ctx, grad_sin, grad_cos):
        (x,) = ctx.saved_tensors
        return None if grad_sin is None else grad_sin * torch.cos(x)  # grad_cos ignored


class SortGathersInsteadOfScatters(Sort):
    @staticmethod
    def backward(ctx, grad_values, grad_order):
        (order,) = ctx.saved_tensors
        # The permutation applied again, not inverted: right only when it is its own inverse.
        return grad_values.gather(ctx.dim, order), None


class EmbeddingAssignsRepeatedIds(Embedding):
    @staticmethod
    def backward(ctx, grad_output):
        (ids,) = ctx.saved_tensors
        rows = upcast(grad_output).reshape(ids.numel(), grad_output.shape[-1])
        grad_weight = rows.new_zeros(ctx.num_rows, grad_output.shape[-1])
        grad_weight[ids.reshape(-1)] = rows  # a repeated id keeps one of its gradients, not their sum
        return grad_weight.to(grad_output.dtype), None


class ScaleInPlaceForgetsMarkDirty(ScaleInPlace):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        x.mul_(scale)  # no ctx.mark_dirty(x): x's history still ends before the Function
        return x


class Log1mexpLargeXSlope(Log1mexp):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        # exp(-x), the slope's limit for large x, used everywhere: wrong by a factor 1 - exp(-x)
        return (upcast(grad_output) * torch.exp(-upcast(x))).to(grad_output.dtype)


class LogSoftmaxTemperatureUnscaled(LogSoftmaxTemperature):
    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        g, y = grad_output, out
        if out.dtype in (torch.float16, torch.bfloat16):
            g, y = g.float(), y.float()
        # the chain rule through x / temperature forgotten: right only at temperature 1
        return (g - torch.exp(y) * g.sum(ctx.dim, keepdim=True)).to(out.dtype), None, None


def log_softmax_temperature_unscaled(x, dim=-1, temperature=1.0):
    return LogSoftmaxTemperatureUnscaled.apply(x, dim, temperature)


def square_when_recording_wrong_path(x):
    """square_when_recording whose path around the Function (taken when nothing requires grad)
    squares the magnitude only: wrong for negative x wherever autograd does not record."""
    if torch.is_grad_enabled() and x.requires_grad:
        return SquareKernel.apply(x)
    return x * x.abs()

