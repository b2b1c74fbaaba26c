"""Magnitude propagation (issue 17's O(n) replacement for the dense Jacobian's magnitudes) is an
upper bound of what the dense oracle computes, on every built-in Function and twin, on the
inputs their own strategies draw; and it says which ops it could not size."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_props.complex_views import as_real_views
from autograd_props.harness import as_outputs
from autograd_props.magnitude_propagation import MagnitudeMode, propagated_magnitudes
from autograd_props.oracles import jacobian_magnitudes
from autograd_props.strategies import cotangents_like
from funcs import SPECS
from tests.corpus.twins import TWINS

SPECS_WITH_REFERENCE = {
    s.name: s for s in [*SPECS, *TWINS.values()] if s.has_reference and {torch.float64, torch.complex128} & set(s.dtypes)
}
# Complex tensors reach the reference as real views and become complex by view_as_complex, which
# the propagation does not size yet: it must say so, not return a silently small magnitude.
COMPLEX = {name for name, s in SPECS_WITH_REFERENCE.items() if name.startswith("complex")}
ROUNDING = 1e-9  # the two are computed in different orders of float64 operations
# Ops the propagation has no rule for, in references it then cannot size (the oracle falls back to
# the dense Jacobian there): named, so that a new rule or a new gap shows here.
KNOWN_UNSIZED = {
    "multi_margin_loss": {"aten.multi_margin_loss_backward.default"},  # no decomposition to aten ops
}


def _at_least(propagated: torch.Tensor, dense: torch.Tensor, what: str) -> None:
    short = propagated < dense * (1 - ROUNDING)
    assert not bool(short.any()), (
        f"{what}: propagated {propagated[short][:5].tolist()} below the dense Jacobian's {dense[short][:5].tolist()}"
    )


@pytest.mark.parametrize("name", sorted(set(SPECS_WITH_REFERENCE) - COMPLEX))
@given(data=st.data())
@settings(database=None, derandomize=True, max_examples=8, deadline=None)
def test_propagated_magnitudes_bound_the_dense_jacobians(name, data):
    spec = SPECS_WITH_REFERENCE[name]
    args = as_real_views(data.draw(spec.args(torch.float64, torch.device("cpu")), label="args"))
    which = spec.differentiable(args)
    with torch.no_grad():
        outputs = as_outputs(spec.reference(*args))
    cotangents = data.draw(cotangents_like(outputs), label="cotangents")
    dense = jacobian_magnitudes(spec.reference, args, which, cotangents)
    got = propagated_magnitudes(spec.reference, args, which, cotangents)
    assert got.unsized <= KNOWN_UNSIZED.get(name, set()), f"{name}: ops without a rule: {sorted(got.unsized)}"
    if got.unsized:
        return
    for k, (p, d, out) in enumerate(zip(got.forward, dense.forward, outputs)):
        if out.is_floating_point():  # dense forward is |f| + |J||x|; the propagated one starts at |J||x|
            _at_least(p + out.abs().to(torch.float64), d, f"{name} output {k}")
    for i, p, d in zip(which, got.vjp, dense.vjp):
        _at_least(p, d, f"{name} gradient of argument {i}")


@pytest.mark.parametrize("name", sorted(COMPLEX))
def test_complex_references_are_reported_unsized(name):
    spec = SPECS_WITH_REFERENCE[name]
    z = torch.tensor([1.0 + 2.0j, -0.5 + 0.25j], dtype=torch.complex128)
    args = as_real_views((z,) * (2 if name == "complex_mul" else 1))
    got = propagated_magnitudes(spec.reference, args, spec.differentiable(args))
    assert "aten.view_as_complex.default" in got.unsized


def test_an_intermediate_that_cancels_keeps_its_rounding():
    # (x + 1e4) - 1e4 is x, but rounded at the scale of 1e4, which the Jacobian (1) does not show.
    x = torch.tensor([1e-3, -2.0], dtype=torch.float64)
    dense = jacobian_magnitudes(lambda t: (t + 1e4) - 1e4, (x,), (0,))
    got = propagated_magnitudes(lambda t: (t + 1e4) - 1e4, (x,), (0,))
    assert (dense.forward[0] - x.abs()).tolist() == pytest.approx(x.abs().tolist())
    assert bool((got.forward[0] >= 1e4).all())


def test_an_op_without_a_rule_is_named():
    mode = MagnitudeMode()
    x = torch.randn(8, dtype=torch.float64)
    with mode:
        torch.fft.rfft(x).abs()
    assert any("fft" in op for op in mode.unsized)


def test_linear_ops_that_only_move_values_add_no_rounding():
    x = torch.tensor([[1.0, -2.0], [3.0, -4.0]], dtype=torch.float64)
    got = propagated_magnitudes(lambda t: t.t().reshape(-1)[1:].clone(), (x,), (0,))
    assert got.forward[0].tolist() == x.t().reshape(-1)[1:].abs().tolist()


def test_a_sum_adds_its_own_rounding():
    x = torch.tensor([1.0, -1.0, 1e-3], dtype=torch.float64)
    got = propagated_magnitudes(lambda t: t.sum(), (x,), (0,))
    assert got.forward[0].item() == pytest.approx(2.001 + 1e-3)  # sum |x| + |sum|


FORWARD_AD = sorted(name for name, s in SPECS_WITH_REFERENCE.items() if s.claims_forward_ad and name not in COMPLEX)


@pytest.mark.parametrize("name", FORWARD_AD)
@given(data=st.data())
@settings(database=None, derandomize=True, max_examples=8, deadline=None)
def test_propagated_jvp_magnitudes_bound_the_dense_jacobians(name, data):
    spec = SPECS_WITH_REFERENCE[name]
    args = data.draw(spec.args(torch.float64, torch.device("cpu")), label="args")
    which = spec.differentiable(args)
    tangents = data.draw(cotangents_like(tuple(args[i] for i in which)), label="tangents")
    dense = jacobian_magnitudes(spec.reference, args, which, tangents=tangents)
    got = propagated_magnitudes(spec.reference, args, which, tangents=tangents)
    assert got.unsized <= KNOWN_UNSIZED.get(name, set()), f"{name}: ops without a rule: {sorted(got.unsized)}"
    assert len(got.jvp) == len(dense.jvp)
    for k, (p, d) in enumerate(zip(got.jvp, dense.jvp)):
        _at_least(p, d, f"{name} tangent of output {k}")


def test_forward_ad_specs_are_covered():
    # The jvp test above must not pass by having nothing to check.
    assert {"exp", "silu", "softmax"} <= set(FORWARD_AD), FORWARD_AD


def test_a_jvp_carries_the_rounding_of_the_values_its_formula_reads():
    # exp's tangent is v * exp(x): exp(x) is off by eps (|x| + 1) relative, beyond |J| |v| = |v exp(x)|.
    x = torch.tensor([3.0, -2.0], dtype=torch.float64)
    v = torch.tensor([1.0, -0.5], dtype=torch.float64)
    got = propagated_magnitudes(torch.exp, (x,), (0,), tangents=(v,))
    dense = (v * x.exp()).abs()
    assert got.unsized == frozenset()
    assert bool((got.jvp[0] >= dense * (x.abs() + 1)).all()), (got.jvp[0], dense)


def test_in_place_copies_are_sized_as_moves():
    x = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)

    def copied(t):
        out = torch.zeros_like(t)
        out.copy_(t * 2)
        return out

    got = propagated_magnitudes(copied, (x,), (0,))
    assert got.unsized == frozenset()
    assert got.forward[0].tolist() == pytest.approx((4 * x.abs()).tolist())  # |2| |x| + |2 x|, no rounding of the copy


class _DoublingWithoutJvp(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x * 2

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_a_reference_without_forward_mode_is_named_not_sized():
    x = torch.tensor([1.0, -2.0], dtype=torch.float64)
    got = propagated_magnitudes(_DoublingWithoutJvp.apply, (x,), (0,), tangents=(x,))
    assert got.jvp == () and any("forward mode of the reference" in op for op in got.unsized), got.unsized


def test_a_reference_whose_jvp_raises_without_a_message_is_named_not_sized():
    # str(exc).splitlines()[0] raised IndexError on NotImplementedError(): the note now has the type.
    class SilentJvp(_DoublingWithoutJvp):
        @staticmethod
        def jvp(ctx, t):
            raise NotImplementedError()

    x = torch.tensor([1.0, -2.0], dtype=torch.float64)
    got = propagated_magnitudes(SilentJvp.apply, (x,), (0,), tangents=(x,))
    assert got.jvp == () and "forward mode of the reference (NotImplementedError: )" in got.unsized, got.unsized
