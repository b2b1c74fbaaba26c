"""Beyond DENSE_JACOBIAN_LIMIT ((input + output elements)^2) the native oracle sizes results by propagating magnitudes
(O(n)) instead of the dense Jacobian: still an upper bound of the dense magnitudes, still strict
enough to catch a wrong gradient, and what it cannot size is said, never guessed."""

from __future__ import annotations

import pytest
import torch

import autograd_props
from autograd_props import oracles, strict_first
from autograd_props.oracles import jacobian_magnitudes
from autograd_props.properties.forward_ad import check_forward_ad
from autograd_props.properties.vjp_native import check_vjp_native
from funcs.softmax import SPEC as SOFTMAX
from tests.corpus.mutants import MUTANTS
from tests.corpus.real_style_twins import MULTI_MARGIN
from tests.corpus.twins import TWINS


def _softmax_example(rows: int, cols: int, dtype: torch.dtype = torch.float64):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(rows, cols, generator=generator, dtype=torch.float64).to(dtype)
    u = torch.randn(rows, cols, generator=generator, dtype=torch.float64).to(dtype)
    return (x, 1), (u,)


def test_past_the_limit_the_magnitudes_are_propagated_and_bound_the_dense_ones(monkeypatch):
    args, cotangents = _softmax_example(4, 8)
    dense = jacobian_magnitudes(SOFTMAX.reference, args, (0,), cotangents)
    monkeypatch.setattr(oracles, "DENSE_JACOBIAN_LIMIT", 0)
    propagated = jacobian_magnitudes(SOFTMAX.reference, args, (0,), cotangents)
    assert dense.input_coupling and not propagated.input_coupling  # propagation needs no coupling
    for got, bound in [(propagated.forward[0], dense.forward[0]), (propagated.vjp[0], dense.vjp[0])]:
        assert bool((got >= bound * (1 - 1e-9)).all()) and bool((got <= 1e3 * bound).all())


def test_a_softmax_of_thousands_of_elements_is_judged_and_its_missing_term_caught():
    args, cotangents = _softmax_example(50, 64, torch.float32)  # 3,200 elements: a dense Jacobian of 10 million
    assert (2 * args[0].numel()) ** 2 > oracles.DENSE_JACOBIAN_LIMIT
    check_vjp_native(SOFTMAX, args=args, cotangents=cotangents)
    with pytest.raises(AssertionError, match="gradient"):
        check_vjp_native(MUTANTS["SOFTMAX_MISSING_TERM"].spec, args=args, cotangents=cotangents)


def test_past_the_limit_the_jvp_magnitudes_are_propagated_and_bound_the_dense_ones(monkeypatch):
    args, tangents = _softmax_example(4, 8)
    dense = jacobian_magnitudes(SOFTMAX.reference, args, (0,), tangents=tangents)
    monkeypatch.setattr(oracles, "DENSE_JACOBIAN_LIMIT", 0)
    propagated = jacobian_magnitudes(SOFTMAX.reference, args, (0,), tangents=tangents)
    got, bound = propagated.jvp[0], dense.jvp[0]
    assert bool((got >= bound * (1 - 1e-9)).all()) and bool((got <= 1e3 * bound).all())


def test_a_softplus_jvp_of_thousands_of_elements_is_judged_and_a_wrong_one_caught():
    generator = torch.Generator().manual_seed(0)
    x, v, u = (torch.randn(40, 50, generator=generator, dtype=torch.float64) for _ in range(3))
    assert (2 * x.numel()) ** 2 > oracles.DENSE_JACOBIAN_LIMIT
    check_forward_ad(TWINS["softplus"], args=(x,), tangents=(v,), cotangents=(u,))
    with pytest.raises(AssertionError, match="jvp"):
        check_forward_ad(MUTANTS["WRONG_JVP"].spec, args=(x,), tangents=(v,), cotangents=(u,))


def test_an_op_the_propagation_cannot_size_skips_the_cell_naming_it(monkeypatch):
    monkeypatch.setattr(oracles, "DENSE_JACOBIAN_LIMIT", 0)
    monkeypatch.setenv(strict_first.ENVIRONMENT_VARIABLE, "0")  # every example needs its sizes
    report = autograd_props.check(MULTI_MARGIN, properties=["vjp_native"], dtypes=[torch.float32], max_examples=5)
    (cell,) = report.cells
    assert cell.outcome == "skipped", cell
    assert "vjp_native cannot judge this example" in cell.reason and "multi_margin_loss_backward" in cell.reason


def test_judged_strictly_first_a_clean_example_needs_no_sizes_so_an_op_without_them_is_no_obstacle(monkeypatch):
    monkeypatch.setattr(oracles, "DENSE_JACOBIAN_LIMIT", 0)
    monkeypatch.setenv(strict_first.ENVIRONMENT_VARIABLE, "1")
    report = autograd_props.check(MULTI_MARGIN, properties=["vjp_native"], dtypes=[torch.float32], max_examples=5)
    (cell,) = report.cells
    assert cell.outcome == "passed", cell
