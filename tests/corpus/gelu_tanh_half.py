"""A modern-style GELU (tanh approximation) as a new user writes it from the README, twice: computed
in the input's dtype, which loses most of a float16 gradient's digits where native (computing
16-bit dtypes in float32) loses none, and computed as the failure message advises."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from autograd_props import FunctionSpec, tensors

C = math.sqrt(2 / math.pi)


def _gelu(x):
    return 0.5 * x * (1 + torch.tanh(C * (x + 0.044715 * x**3)))


def _gelu_slope(x):
    t = torch.tanh(C * (x + 0.044715 * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C * (1 + 3 * 0.044715 * x * x)


class GeluTanhInItsDtype(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return _gelu(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _gelu_slope(x)


class GeluTanhInFloat32(GeluTanhInItsDtype):
    @staticmethod
    def forward(x):
        return _gelu(x.to(torch.promote_types(x.dtype, torch.float32))).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        wide = torch.promote_types(x.dtype, torch.float32)
        return (grad.to(wide) * _gelu_slope(x.to(wide))).to(x.dtype)


def _args(dtype, device):
    return tensors(dtype=dtype, device=device).map(lambda x: (x,))


def _reference(x):
    return F.gelu(x, approximate="tanh")


IN_ITS_DTYPE = FunctionSpec(name="gelu_tanh", function=GeluTanhInItsDtype.apply, reference=_reference, args=_args)
IN_FLOAT32 = FunctionSpec(name="gelu_tanh", function=GeluTanhInFloat32.apply, reference=_reference, args=_args)
