"""strict_first: a strict verdict implies the sized one, never hides a failure, and copies examples faithfully."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_props import properties, spec_named, strict_first
from autograd_props.cell import Cell
from autograd_props.results import Verdict
from funcs import SPECS as BUILT_IN
from tests.corpus.mutants import MUTANTS

STRICT_PROPERTIES = tuple(p for p in properties.REGISTRY.values() if p.strict_first)
COUNTS = {"strict": 0, "sized": 0}


def test_the_sized_properties_opt_in():
    assert {p.name for p in STRICT_PROPERTIES} == {"forward", "vjp_native", "vjp_finite_differences", "forward_ad", "double_backward"}


def test_copies_keep_offsets_strides_and_aliasing_and_are_copies():
    base = torch.arange(12.0, dtype=torch.float64)
    view = base[2:10].view(2, 4).t()  # offset 2, strides (1, 4)
    expanded = torch.tensor([1.0, 2.0], dtype=torch.float64).expand(3, 2)  # stride 0
    copied = strict_first.copy_example({"args": (view, base, expanded, 3.0), "cotangents": [expanded]})
    v, b, e, scalar = copied["args"]
    assert (v.storage_offset(), v.stride(), v.shape) == (2, (1, 4), (4, 2)) and torch.equal(v, view)
    assert e.stride() == (0, 1) and torch.equal(e, expanded) and scalar == 3.0
    assert v.untyped_storage().data_ptr() == b.untyped_storage().data_ptr() != base.untyped_storage().data_ptr()
    assert copied["cotangents"][0].untyped_storage().data_ptr() == e.untyped_storage().data_ptr()
    v.mul_(0)  # the copy's aliasing is the original's, and the original is untouched
    assert b[2:10].eq(0).all() and torch.equal(base, torch.arange(12.0, dtype=torch.float64))


def test_magnitudes_are_zero_and_not_computed_when_judging_strictly(monkeypatch):
    from autograd_props import oracles

    def no_jacobian(*args, **kwargs):
        raise AssertionError("the Jacobian was computed")

    monkeypatch.setattr(torch.autograd.functional, "jacobian", no_jacobian)
    x = torch.randn(3, 4, dtype=torch.float64)
    with strict_first.judging_strictly():
        sizes = oracles.jacobian_magnitudes(torch.softmax, (x, -1), (0,), cotangents=(x,))
    assert [float(m.abs().sum()) for m in sizes.forward + sizes.vjp + sizes.jvp] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("prop", STRICT_PROPERTIES, ids=lambda p: p.name)
@pytest.mark.parametrize("spec", [s for s in BUILT_IN if s.has_reference], ids=lambda s: s.name)
def test_a_strict_pass_is_a_sized_pass_with_a_larger_margin(spec, prop):
    dtype = spec.full_precision_dtype
    if prop.skip(spec, dtype) is not None:
        pytest.skip(prop.skip(spec, dtype).reason)
    cell = Cell(spec=spec, dtype=dtype, device="cpu", prop=prop.name)

    @settings(max_examples=4, deadline=None, derandomize=True, database=None)
    @given(st.data())
    def each(data):
        kwargs = prop.draw(cell, data)
        strict = strict_first.judged(prop.check, spec, kwargs)
        sized = Verdict.of(prop.check(spec, **kwargs))  # a correct built-in: passes
        if strict is None:
            COUNTS["sized"] += 1
            return
        COUNTS["strict"] += 1
        assert strict.notes == sized.notes
        assert len(strict.margins) == len(sized.margins)
        assert all(s <= t * (1 + 1e-12) + 1e-300 for s, t in zip(sized.margins, strict.margins)), (sized.margins, strict.margins)

    each()


def test_most_examples_of_the_built_ins_pass_strictly():
    # Runs after the parametrized test above in file order; alone, it has nothing to count.
    if COUNTS["strict"] + COUNTS["sized"] == 0:
        pytest.skip("run with test_a_strict_pass_is_a_sized_pass_with_a_larger_margin")
    assert COUNTS["strict"] > COUNTS["sized"], COUNTS


@pytest.mark.parametrize("name", ["SMALL_RELATIVE_ERROR", "IGNORES_GRAD_OUTPUT", "WRONG_JVP"])
def test_a_mutant_is_never_passed_strictly_and_fails_as_it_would(name, monkeypatch):
    mutant = MUTANTS[name]
    prop = properties.REGISTRY["forward_ad" if name == "WRONG_JVP" else "vjp_native"]
    cell = Cell(spec=mutant.spec, dtype=torch.float64, device="cpu", prop=prop.name)
    messages = {}

    for on in ("0", "1"):
        monkeypatch.setenv(strict_first.ENVIRONMENT_VARIABLE, on)

        @settings(max_examples=20, deadline=None, derandomize=True, database=None)
        @given(st.data())
        def each(data):
            prop.run(dataclasses.replace(cell), data)  # strictly first when on

        with pytest.raises(AssertionError) as caught:
            each()
        messages[on] = str(caught.value).splitlines()[0]
    assert messages["0"] == messages["1"]


def _relu_kink(cotangent_at_kink: float) -> dict:
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return {"args": (f64([0.0, 1.0]),), "cotangents": (f64([cotangent_at_kink, 1.0]),), "directions": (f64([1.0, 1.0]),)}


def test_a_kink_the_sensitivities_cannot_explain_away_is_reported_strictly_as_the_sized_run_does():
    relu = spec_named("funcs", "relu")
    prop = properties.REGISTRY["vjp_finite_differences"]
    strict = strict_first.judged(prop.check, relu, _relu_kink(1.0))
    assert strict is not None
    assert strict == Verdict.of(prop.check(relu, **_relu_kink(1.0)))
    assert any("non-smooth" in n for n in strict.notes)


def test_a_kink_only_the_floors_threshold_finds_is_judged_with_magnitudes():
    # the jump is 1e-3 of the slope: below the sizes-free thresholds (NONSMOOTH_RATIO x the slope)
    relu = spec_named("funcs", "relu")
    prop = properties.REGISTRY["vjp_finite_differences"]
    assert strict_first.judged(prop.check, relu, _relu_kink(1e-3)) is None
    assert any("non-smooth" in n for n in Verdict.of(prop.check(relu, **_relu_kink(1e-3))).notes)


def test_it_is_on_unless_turned_off(monkeypatch):
    monkeypatch.delenv(strict_first.ENVIRONMENT_VARIABLE, raising=False)
    assert strict_first.enabled()
    monkeypatch.setenv(strict_first.ENVIRONMENT_VARIABLE, "0")
    assert not strict_first.enabled()
    monkeypatch.setenv(strict_first.ENVIRONMENT_VARIABLE, "yes")
    with pytest.raises(ValueError, match="expected 0 .off. or 1"):
        strict_first.enabled()
