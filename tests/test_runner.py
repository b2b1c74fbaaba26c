"""What a failing cell costs: the search for further distinct failures stops once a budget of
examples has shown only the failure already found."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import settings

from autograd_props import profiles, strict_first
from autograd_props.cell import Cell
from autograd_props.runner import Budget, run_cell
from funcs.square import SPEC as SQUARE
from funcs.square import Square

CALLS = {"backward": 0}


class AlwaysRaisingBackward(Square):
    @staticmethod
    def backward(ctx, grad_output):
        CALLS["backward"] += not strict_first.strict()  # examples: strict_first runs each twice
        raise ValueError("backward fails on every input")


@pytest.mark.parametrize("max_examples", [10, 25])
def test_a_function_that_fails_everywhere_is_not_searched_past_a_budget(max_examples):
    spec = dataclasses.replace(SQUARE, function=AlwaysRaisingBackward.apply, function_class=AlwaysRaisingBackward)
    cell = Cell(spec=spec, dtype=torch.float64, device="cpu", prop="vjp_native")
    budget = Budget(settings(settings.get_profile(profiles.META), max_examples=max_examples))
    CALLS["backward"] = 0
    with pytest.raises(ValueError, match="backward fails on every input"):  # one failure, not a group of it
        run_cell(cell, budget)
    # The first failing example (and its replay), then one budget of examples that show it again:
    # Hypothesis alone would draw up to ten budgets' worth of rejected examples.
    assert max_examples <= CALLS["backward"] <= max_examples + 5
