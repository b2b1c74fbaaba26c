"""Real bugs in built-in Functions that the soak found, pinned as the examples it shrank to.

Each is an overflow in a half-precision backward where native autograd, and the float64 truth,
stay finite: special_values demands a finite gradient there.
"""

from __future__ import annotations

import torch

from autograd_props import spec_named
from autograd_props.properties.special_values import check_special_values


def test_affine_reduces_before_multiplying_as_native_does():
    # w * x + b with scalar w, x and b of shape (2,): native reduces g to w*x's shape first,
    # sum(g) * x = 2 * 32752 = 65504 (float16's max).  Multiplying first, g * x = 98256
    # overflowed to inf before the sum.
    half = lambda v: torch.tensor(v, dtype=torch.float16)  # noqa: E731
    args = (half(1.0), half(32752.0), half([0.0, 0.0]))
    check_special_values(spec_named("funcs", "affine"), args=args, cotangents=(half([3.0, -1.0]),))


def test_linear_accumulates_bfloat16_beyond_float32s_range():
    # grad_W = 6.7e35 - 2 * 2**127 = -3.3961e38, which rounds to bfloat16's -max (native's answer
    # too).  Accumulated in float32, -2 * 2**127 is already -inf.
    bf16 = lambda v: torch.tensor(v, dtype=torch.bfloat16)  # noqa: E731
    args = (bf16([[6.698062947509928e35], [2.0**127]]), bf16([[1.0]]), bf16([0.0]))
    check_special_values(spec_named("funcs", "linear"), args=args, cotangents=(bf16([[1.0], [-2.0]]),))
