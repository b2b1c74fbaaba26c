"""The cost of drawing one tensor example: the gate's strategies against ``torch.randn``.

float32, 1-D, at ``DRAW_SIZES`` (10^3 to 10^6 elements; smoke run: 10^3):

* ``filled``: ``large_tensors.filled_tensors`` (a palette, a seed and placed values through
  Hypothesis; the fill by ``torch.randint`` and ``index_select``);
* ``elementwise``: ``strategies.tensors``, every element drawn by Hypothesis -- what the gate
  uses at its default small sizes; up to 10^4 elements, with Hypothesis's cap on a test case's
  size lifted (inside a test it cannot draw even 500 float32 elements);
* ``randn``: ``torch.randn`` of the same size, the floor.

One example is drawn per round from a fresh ``ConjectureData`` seeded by the round number, in a
``BuildContext``, as Hypothesis draws a test case (Hypothesis's internal API: it has no public way to draw one
example outside a test; ``.example()`` keeps a cache).  Issue 17's target: ``filled`` at 10^6
at most 5x ``randn`` plus 5 ms, computed by the report from the medians.
"""

from __future__ import annotations

import itertools
import random

import pytest
import torch
from hypothesis.control import BuildContext
from hypothesis.internal.conjecture.data import ConjectureData

from autograd_props.large_tensors import filled_tensors
from autograd_props.strategies import tensors

ELEMENTWISE_MAX_NUMEL = 10_000
# Hypothesis caps a test case at 8 KiB of choices: elementwise drawing overruns it from a few hundred
# float32 elements (a @given test fails its data_too_large health check at 500); lifted to time it.
ELEMENTWISE_BUFFER = 10**7
IMPLS = ("filled", "elementwise", "randn")


def _drawing(strategy, *, max_length: int | None = None):
    seeds = itertools.count()

    def draw() -> torch.Tensor:
        data = ConjectureData(random=random.Random(next(seeds)))
        if max_length is not None:
            data.max_length = max_length
        with BuildContext(data, wrapped_test=draw):
            return data.draw(strategy)

    return draw


def _impl(impl: str, numel: int):
    if impl == "randn":
        return lambda: torch.randn(numel)
    if impl == "filled":
        return _drawing(filled_tensors(dtype=torch.float32, device="cpu", shape=(numel,)))
    return _drawing(tensors(dtype=torch.float32, device="cpu", shape=(numel,)), max_length=ELEMENTWISE_BUFFER)


@pytest.mark.parametrize("impl", IMPLS)
def test_draw_cost(benchmark, impl: str, draw_numel: int) -> None:
    """``draw_numel``: DRAW_SIZES when timed, else SMOKE_DRAW_SIZES (conftest)."""
    if impl == "elementwise" and draw_numel > ELEMENTWISE_MAX_NUMEL:
        pytest.skip(f"elementwise drawing is timed up to {ELEMENTWISE_MAX_NUMEL} elements (seconds per example beyond)")
    numel = draw_numel
    benchmark.group = f"draw float32 n{numel}"
    benchmark.extra_info.update(function="float32 tensor", impl=impl, numel=numel, measure="draw", device="cpu", dtype="float32")
    tensor = benchmark(_impl(impl, numel))
    assert tensor.shape == (numel,) and tensor.dtype == torch.float32
