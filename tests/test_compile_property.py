"""The compile property: a cell's examples share one compiled function (an example whose guards
hold compiles nothing), the cache is reset per cell and before dynamo's recompile limit, and an
example where no compiled graph ran is noted (its results are eager's), first example or later."""

from __future__ import annotations

import dataclasses

import torch

from autograd_props.properties import compile as compile_property
from autograd_props.properties.compile import RAN_EAGERLY, RECOMPILES_BEFORE_RESET, check_compile
from funcs.square import SPEC as SQUARE
from funcs.square import Square


def _example(*shape: int, dtype: torch.dtype = torch.float64) -> dict:
    return {"args": (torch.randn(shape, dtype=dtype),), "cotangents": (torch.randn(shape, dtype=dtype),)}


def test_examples_of_one_cell_share_the_compiled_graph():
    check_compile(SQUARE, **_example(3, 4))
    counter = compile_property._CELL.counter
    compiled = counter.compiled
    check_compile(SQUARE, **_example(5, 2))  # same dtype and ndim: dynamic shapes, no new graph
    assert compile_property._CELL.counter is counter
    assert counter.compiled == compiled


def test_a_new_cell_and_many_recompiles_reset_the_cache():
    check_compile(SQUARE, **_example(3, 4))
    first = compile_property._CELL.counter
    check_compile(SQUARE, **_example(3, 4, dtype=torch.float32))  # another dtype: another cell
    assert compile_property._CELL.counter is not first
    # Each new number of dimensions compiles; the cache is reset before a code object could reach
    # dynamo's recompile limit (8) and run eagerly.
    seen = set()
    for ndim in range(2 * RECOMPILES_BEFORE_RESET):
        check_compile(SQUARE, **_example(*([3] * (ndim % 4 + 2)), dtype=torch.float32))
        assert compile_property._CELL.examples_that_compiled <= RECOMPILES_BEFORE_RESET
        seen.add(id(compile_property._CELL.counter))
    assert len(seen) > 1


class EagerOnlySquare(Square):
    @staticmethod
    @torch._dynamo.disable
    def forward(x):
        return x * x


def _eager_for_vectors(x):
    return EagerOnlySquare.apply(x) if x.dim() == 1 else Square.apply(x)


def test_an_example_where_no_compiled_graph_ran_is_noted_also_after_one_that_compiled():
    # dynamo leaving the Function to eager is no wrong result (issue 40: a false alarm before)
    spec = dataclasses.replace(SQUARE, function=_eager_for_vectors, function_class=EagerOnlySquare)
    assert check_compile(spec, **_example(3, 4)).notes == ()  # compiled, and its graph ran
    eager = check_compile(spec, **_example(3))  # the same cell, all eager
    assert eager.notes == (RAN_EAGERLY,) and eager.margins  # compared with eager all the same
