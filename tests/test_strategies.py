"""The tensor strategies reach what they promise: 0-d, zero-size, zeros, both magnitude extremes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import find, given
from hypothesis import strategies as st

from autograd_props.strategies import (
    broadcastable_shapes,
    elements,
    large_threshold,
    safe_max_abs,
    tensors,
)

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensors_have_the_requested_dtype_device_and_bounded_values(dtype):
    @given(tensors(dtype=dtype, device="cpu"))
    def check(t):
        assert t.dtype == dtype and t.device.type == "cpu" and not t.requires_grad
        assert torch.isfinite(t).all()
        assert t.numel() <= 5**3
        assert (t.abs() <= safe_max_abs(dtype) * 1.01).all()
        assert torch.isfinite(t.double() * t.double()).all() and torch.isfinite((t * t)).all()

    check()


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_cases_are_reachable(dtype):
    strategy = tensors(dtype=dtype, device="cpu")
    assert find(strategy, lambda t: t.dim() == 0).dim() == 0
    assert find(strategy, lambda t: t.numel() == 0 and t.dim() > 0).numel() == 0
    assert (find(strategy, lambda t: (t == 0).any()) == 0).any()
    large = large_threshold(safe_max_abs(dtype))
    assert (find(strategy, lambda t: (t.abs() >= large).any()).abs() >= large).any()
    assert find(strategy, lambda t: ((t != 0) & (t.abs() <= 1e-2)).any()).numel() > 0


def test_broadcastable_shapes_broadcast():
    @given(broadcastable_shapes(3))
    def check(shapes):
        torch.broadcast_shapes(*shapes)

    check()


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="dtype=torch.int64"):
        elements(torch.int64)
    with pytest.raises(ValueError, match="min_abs=5"):
        elements(torch.float32, min_abs=5, max_abs=1)
    with pytest.raises(ValueError, match="dtype=torch.int32"):
        tensors(dtype=torch.int32, device="cpu")


def test_min_abs_keeps_values_away_from_zero():
    @given(st.lists(elements(torch.float32, min_abs=0.5), min_size=1))
    def check(values):
        assert all(abs(v) >= 0.5 for v in values)

    check()
