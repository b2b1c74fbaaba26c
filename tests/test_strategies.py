"""The tensor strategies reach what they promise: 0-d, zero-size, zeros, both magnitude extremes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import find, given
from hypothesis import strategies as st

from autograd_props.strategies import (
    broadcastable_shapes,
    dims,
    elements,
    indices,
    large_threshold,
    masks,
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
def test_a_plain_floats_strategy_draws_values_rounded_to_the_dtype(dtype):
    # numpy 1.x makes Hypothesis refuse 0.1 for a float32 array; numpy 2 stores it rounded
    @given(tensors(dtype=dtype, device="cpu", shape=(4,), elements_strategy=st.floats(0.0, 1.0)))
    def check(t):
        assert t.dtype == dtype and ((t >= 0) & (t <= 1)).all()

    check()
    assert (find(tensors(dtype=dtype, device="cpu", shape=(1,), elements_strategy=st.floats(0.0, 1.0)), lambda t: (t > 0.2).all()) > 0.2).all()


def test_a_value_the_dtype_cannot_hold_is_not_silently_made_infinite():
    drawn = tensors(dtype=torch.float16, device="cpu", shape=(1,), elements_strategy=st.just(1e6))

    @given(drawn)
    def check(t):
        pass

    with pytest.raises(ValueError, match="drew 1000000.0, which torch.float16 cannot hold"):
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


def test_indices_stay_in_range_and_repeat():
    @given(st.integers(1, 6).flatmap(lambda n: st.tuples(st.just(n), indices(n, device="cpu"))))
    def check(drawn):
        size, ids = drawn
        assert ids.dtype == torch.int64 and not ids.is_floating_point()
        assert ((ids >= 0) & (ids < size)).all()

    check()
    repeated = find(indices(4, device="cpu"), lambda t: t.numel() > t.unique().numel())
    assert repeated.numel() > repeated.unique().numel()
    assert find(indices(3, device="cpu", shape=(2,), dtype=torch.int32), lambda t: True).dtype == torch.int32


def test_masks_are_boolean_and_reach_both_values():
    strategy = masks(device="cpu", shape=(4,))
    assert find(strategy, lambda m: bool(m.any()) and not bool(m.all())).dtype == torch.bool


def test_dims_are_valid_for_their_rank():
    @given(st.integers(0, 4).flatmap(lambda n: st.tuples(st.just(n), dims(n))))
    def check(drawn):
        ndim, dim = drawn
        torch.zeros((2,) * ndim).sum(dim)  # raises for an invalid dim

    check()


def test_bad_index_and_dim_arguments_name_themselves():
    with pytest.raises(ValueError, match="size=0"):
        indices(0, device="cpu")
    with pytest.raises(ValueError, match="dtype=torch.float32"):
        indices(3, device="cpu", dtype=torch.float32)
    with pytest.raises(ValueError, match="ndim=-1"):
        dims(-1)


@pytest.mark.parametrize("make", [
    lambda: tensors(dtype=torch.float64, device="cpu", shape=(0, 2)),
    lambda: tensors(dtype=torch.complex64, device="cpu", shape=(3, 0)),
    lambda: indices(4, device="cpu", shape=(0, 3)),
    lambda: masks(device="cpu", shape=(2, 0)),
], ids=["float", "complex", "indices", "masks"])
def test_a_zero_size_tensor_has_the_strides_of_a_fresh_one(make):
    # numpy gives zero-size arrays strides of 0; view_as_complex (and a user's reference) refuses
    # a last stride other than 1, so the strategy's tensor would fail every reference.
    t = find(make(), lambda _: True)
    assert t.stride() == torch.empty(t.shape).stride()
