"""Large-tensor strategies: boundary sizes, a million elements cheaply, and shrinking that still
reaches the smallest shape and the simplest values; the gate drawing a spec at its sizes."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import find, given, settings
from hypothesis import strategies as st

import autograd_props
from autograd_props import FunctionSpec
from autograd_props.large_tensors import MAX_NUMEL, boundary_side_values, boundary_sides, filled_tensors, large_shapes
from autograd_props.profiles import LARGE
from autograd_props.sizes import Sizes, current_sizes, drawing_sizes
from autograd_props.strategies import elements, indices, masks, shapes, tensors
from funcs import SPECS as BUILT_IN
from funcs.square import SPEC as SQUARE

QUIET = settings(database=None, derandomize=True, max_examples=200)


def test_boundary_sides_are_powers_of_two_and_chunk_multiples_one_either_side():
    sides = boundary_side_values(max_side=10_000, chunk_sizes=(3000,))
    assert sides == sorted(sides) and sides[:4] == [0, 1, 2, 3]
    for k in range(2, 13):
        assert {2**k - 1, 2**k, 2**k + 1} <= set(sides)
    assert {2999, 3000, 3001, 5999, 6000, 6001} <= set(sides)
    assert max(sides) <= 10_000 and 8999 not in sides


def test_boundary_sides_respect_min_side():
    assert min(boundary_side_values(max_side=100, min_side=5)) == 5
    assert find(boundary_sides(max_side=100, min_side=5), lambda s: True, settings=QUIET) == 5


@given(large_shapes(chunk_sizes=(4096,), max_dims=3))
@settings(database=None, max_examples=100)
def test_large_shapes_never_exceed_max_numel(shape):
    assert 1 <= len(shape) <= 3 and math.prod(shape) <= MAX_NUMEL


def test_shapes_shrink_to_just_past_the_chunk():
    assert find(large_shapes(chunk_sizes=(3000,)), lambda s: s[0] > 3000, settings=QUIET) == (3001,)
    assert 100_000 < math.prod(find(large_shapes(), lambda s: math.prod(s) > 100_000, settings=QUIET)) <= 131_071


def test_a_large_tensor_is_reached():
    tensor = find(filled_tensors(dtype=torch.float32, device="cpu"), lambda t: t.numel() > 500_000, settings=QUIET)
    assert 500_000 < tensor.numel() <= MAX_NUMEL and tensor.dtype == torch.float32


def test_values_shrink_to_one_simple_value_and_stay_in_the_elements_domain():
    tensor = find(filled_tensors(dtype=torch.float64, device="cpu"), lambda t: t.numel() > 100 and bool(t.any()), settings=QUIET)
    assert tensor.shape == (127,) and tensor.unique().tolist() == [1.0]


@given(filled_tensors(dtype=torch.float16, device="cpu", shape=(2049,), elements_strategy=elements(torch.float16, min_abs=0.5, max_abs=2.0)))
@settings(database=None, max_examples=30)
def test_every_element_comes_from_the_elements_strategy(tensor):
    magnitudes = tensor.abs()
    assert tensor.shape == (2049,) and bool(((magnitudes >= 0.5) & (magnitudes <= 2.0)).all())


def test_a_value_can_be_placed_at_the_last_element_alone():
    def last_alone(t: torch.Tensor) -> bool:
        return t.numel() > 1 and bool(t[-1] != 0) and not bool(t[:-1].any())

    # A one-value palette of 0 and a 1 placed last: rare enough per example that the search needs
    # more than the other tests' budget (torch 2.1's randint draws other palettes than 2.13's).
    values = st.sampled_from([0.0, 1.0])
    search = settings(QUIET, max_examples=5000)
    tensor = find(filled_tensors(dtype=torch.float64, device="cpu", shape=(4097,), elements_strategy=values), last_alone, settings=search)
    assert tensor[-1] != 0 and tensor.count_nonzero() == 1


def test_complex_tensors_draw_both_parts():
    tensor = find(filled_tensors(dtype=torch.complex64, device="cpu", shape=(5,)), lambda t: bool((t.imag != 0).any()), settings=QUIET)
    assert tensor.dtype == torch.complex64 and tensor.shape == (5,)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: boundary_sides(max_side=10, chunk_sizes=(0,)), "chunk_sizes"),
        (lambda: boundary_sides(max_side=10, chunk_sizes=[4]), "chunk_sizes"),
        (lambda: boundary_sides(max_side=3, min_side=5), "min_side"),
        (lambda: large_shapes(max_numel=0), "max_numel"),
        (lambda: large_shapes(min_dims=3, max_dims=2), "min_dims"),
        (lambda: large_shapes(min_side=2000, min_dims=2), "exceeds max_numel"),
        (lambda: filled_tensors(dtype=torch.float32, device="cpu", max_palette=0), "max_palette"),
    ],
)
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_an_empty_shape_draws_an_empty_tensor():
    tensor = find(filled_tensors(dtype=torch.float32, device="cpu", shape=st.just((0, 7))), lambda t: True, settings=QUIET)
    assert tensor.shape == (0, 7)


def _recording_square(sizes: str, seen: list[int]) -> FunctionSpec:
    def args(dtype, device):
        return tensors(dtype=dtype, device=device).map(lambda x: seen.append(x.numel()) or (x,))

    return FunctionSpec(name="square_sizes", function=SQUARE.function, reference=torch.square, args=args, sizes=sizes, chunk_sizes=(4096,))


@pytest.mark.parametrize(("sizes", "profile", "large"), [("small", None, False), ("large", None, True), ("small", LARGE, True)])
def test_the_gate_draws_a_spec_at_its_sizes_or_the_profiles(sizes, profile, large):
    seen: list[int] = []
    autograd_props.check(_recording_square(sizes, seen), properties=["forward"], dtypes=[torch.float32], profile=profile, max_examples=10)
    assert (max(seen) > 5**3) is large, seen
    assert current_sizes() == Sizes()  # nothing leaks past the cell


def test_a_declared_chunk_size_is_reached_and_just_passed():
    with drawing_sizes(Sizes(large=True, chunk_sizes=(4096,))):
        rows = find(shapes(min_dims=2, max_dims=2, min_side=1), lambda s: s[0] > 4096)
    assert rows[0] == 4097


def test_at_large_sizes_indices_and_masks_are_filled_too():
    with drawing_sizes(Sizes(large=True)):
        ids = find(indices(7, device="cpu"), lambda t: t.numel() > 10**4)
        mask = find(masks(device="cpu"), lambda t: t.numel() > 10**4 and bool(t.any()))
    assert ids.dtype == torch.int64 and 0 <= int(ids.min()) and int(ids.max()) < 7
    assert mask.dtype == torch.bool


@pytest.mark.parametrize("spec", BUILT_IN, ids=lambda s: s.name)
def test_the_large_profile_draws_every_built_in_past_the_default_sizes(spec):
    # Past 5^3 elements (the default sizes' most) in some argument: a spec whose strategy ignores
    # the sizes would be checked at the large profile only at its small ones.
    dtype = torch.float32 if torch.float32 in spec.dtypes else spec.dtypes[0]

    def large(args):
        return any(isinstance(a, torch.Tensor) and a.numel() > 5**3 for a in args)

    with drawing_sizes(Sizes(large=True)):
        found = find(spec.args(dtype, torch.device("cpu")), large, settings=settings(database=None, derandomize=True, max_examples=50))
    assert large(found)


@given(st.data())
@settings(database=None, derandomize=True, max_examples=30, deadline=None)
def test_large_broadcastable_shapes_broadcast_and_stay_within_max_numel(data):
    with drawing_sizes(Sizes(large=True)):
        drawn = data.draw(autograd_props.broadcastable_shapes(3))
    result = torch.broadcast_shapes(*drawn)
    assert math.prod(result) <= MAX_NUMEL


def test_large_broadcastable_shapes_are_reached_and_shrink_to_just_past_the_boundary():
    with drawing_sizes(Sizes(large=True)):
        strategy = autograd_props.broadcastable_shapes(2)
        large = find(strategy, lambda s: math.prod(torch.broadcast_shapes(*s)) > 4096, settings=settings(database=None, max_examples=200))
    assert math.prod(torch.broadcast_shapes(*large)) == 4097, large  # 2^12 + 1
