"""What a failing cell costs: the search for further distinct failures stops once a budget of
examples has shown only the failure already found, and shrinking and that search stop at a time
bound as well."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import settings

from autograd_props import profiles, runner, strict_first
from autograd_props.cell import Cell, failures_of
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


class _FakeClock:
    """The runner's clocks, moved only when the Function runs: one CPU second a backward, and
    ``load`` wall seconds once the first failure is in (a machine that got busier)."""

    def __init__(self) -> None:
        self.cpu = self.wall = 0.0
        self.load = 1.0
        self.failed = False

    def tick(self, *, failing: bool) -> None:
        self.wall += self.load if self.failed else 1.0
        self.cpu += 1.0
        self.failed |= failing

    def process_time(self) -> float:
        return self.cpu

    def perf_counter(self) -> float:
        return self.wall


FAKE_CLOCK = _FakeClock()


class SlowOffByOneBackward(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        # Wrong on every tensor of 8 elements or more: shrinking has that many elements to simplify,
        # and most of its steps succeed.
        wrong = x.numel() >= 8
        FAKE_CLOCK.tick(failing=wrong)
        CALLS["backward"] += 1
        return grad_output * 2 * x + (1 if wrong else 0)


def _shrink_run(monkeypatch, *, full_shrink: bool, load: float = 1.0) -> tuple[Cell, BaseException]:
    monkeypatch.setattr(runner, "time", FAKE_CLOCK)
    FAKE_CLOCK.cpu = FAKE_CLOCK.wall = 0.0
    FAKE_CLOCK.load = load
    FAKE_CLOCK.failed = False
    monkeypatch.setattr(strict_first, "enabled", lambda: False)  # one backward per example
    spec = dataclasses.replace(SQUARE, function=SlowOffByOneBackward.apply, function_class=SlowOffByOneBackward)
    cell = Cell(spec=spec, dtype=torch.float64, device="cpu", prop="vjp_native")
    budget = Budget(settings(settings.get_profile(profiles.CI), max_examples=10), shrink_all=full_shrink)
    CALLS["backward"] = 0
    with pytest.raises(AssertionError) as raised:
        run_cell(cell, budget)
    return cell, raised.value


def test_shrinking_stops_at_its_time_bound_with_the_smallest_failure_found(monkeypatch):
    cell, failure = _shrink_run(monkeypatch, full_shrink=False)
    (note,) = [n for n in cell.notes if n.startswith("shrinking stopped at its time bound")]
    assert "(10.0 CPU s, what 10 of the cell's examples took)" in note  # every example takes 1 CPU s
    # The bound (10 examples' time) for shrinking, then one example past it; the search for a
    # further failure: one budget of examples showing the known one (also 10 s), and the examples
    # before the first failure and its replays.
    assert CALLS["backward"] <= 1 + 11 + 10 + 3
    assert failures_of(failure) and "Reproduce with" in "".join(failure.__notes__)


def test_a_busier_machine_does_not_cut_shrinking_shorter(monkeypatch):
    # A derandomized run's reproducer must not depend on the load: the bound is in CPU time, and the
    # wall time only caps it at WALL_CAP_FACTOR times its bound.
    idle_cell, idle_failure = _shrink_run(monkeypatch, full_shrink=False)
    idle_calls = CALLS["backward"]
    busy_cell, busy_failure = _shrink_run(monkeypatch, full_shrink=False, load=runner.WALL_CAP_FACTOR * 0.9)
    assert CALLS["backward"] == idle_calls
    assert busy_cell.notes == idle_cell.notes
    assert str(busy_failure) == str(idle_failure)


def test_a_machine_far_busier_caps_shrinking_by_wall_time(monkeypatch):
    _shrink_run(monkeypatch, full_shrink=False)
    idle_calls = CALLS["backward"]
    _shrink_run(monkeypatch, full_shrink=False, load=runner.WALL_CAP_FACTOR * 3)
    assert CALLS["backward"] < idle_calls


def test_a_full_shrink_has_no_time_bound(monkeypatch):
    _shrink_run(monkeypatch, full_shrink=True)
    idle_calls = CALLS["backward"]
    # A machine far busier, which caps a bounded shrink (above), leaves a full one as it is.
    cell, _ = _shrink_run(monkeypatch, full_shrink=True, load=runner.WALL_CAP_FACTOR * 3)
    assert not [n for n in cell.notes if n.startswith("shrinking stopped")]
    assert CALLS["backward"] == idle_calls
    _shrink_run(monkeypatch, full_shrink=False, load=runner.WALL_CAP_FACTOR * 3)
    assert CALLS["backward"] < idle_calls


def test_each_example_seeds_torch_as_manual_seed_does_without_formatting_a_stack(monkeypatch):
    """Hypothesis seeds torch before every example; torch.manual_seed also queued a call with a
    formatted stack trace for each accelerator not initialized (a fifth of a gate run's time)."""
    import traceback

    def no_stack(*args, **kwargs):
        raise AssertionError("seeding formatted a stack trace")

    torch.manual_seed(7)
    expected = torch.random.get_rng_state()
    torch.manual_seed(0)
    if not any(backend.is_available() for backend in runner._ACCELERATORS):  # where one is, torch queues a lazy seed
        monkeypatch.setattr(traceback, "format_stack", no_stack)
    runner.TORCH_RANDOM.seed(7)
    assert torch.equal(torch.random.get_rng_state(), expected)
