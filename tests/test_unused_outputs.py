"""``unused_outputs`` when every output's gradient is undefined: None or zeros, but for NaN where
native gives NaN for zero cotangents too (0 times an overflowed derivative)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from autograd_props.properties.unused_outputs import check_unused_outputs
from funcs.exp import SPEC as EXP
from funcs.exp import Exp


class ExpPlusOne(Exp):
    @staticmethod
    def backward(ctx, grad_output):
        return Exp.backward(ctx, grad_output) + 1  # nonzero for a zero cotangent


class ExpNaN(Exp):
    @staticmethod
    def backward(ctx, grad_output):
        return Exp.backward(ctx, grad_output) * torch.nan  # NaN where native's is 0


def _check(function_class, values):
    spec = dataclasses.replace(EXP, function=function_class.apply, function_class=function_class)
    x = torch.tensor(values, dtype=torch.float16)
    return check_unused_outputs(spec, args=(x,), cotangents=(torch.ones_like(x),))


def test_nan_where_native_gives_nan_for_zero_cotangents_is_noted_not_failed():
    # exp(32) overflows float16: 0 * inf = NaN, in native exp's backward as in this one.
    verdict = _check(Exp, [32.0, 1.0])
    assert any("where native gives NaN for zero ones" in note for note in verdict.notes)
    assert _check(Exp, [1.0, 2.0]).notes == ()


@pytest.mark.parametrize("function_class", [ExpPlusOne, ExpNaN])
def test_a_nonzero_gradient_native_does_not_give_still_fails(function_class):
    with pytest.raises(AssertionError, match="nonzero when every output's gradient is undefined"):
        _check(function_class, [32.0, 1.0])


def test_a_bare_assert_in_backward_says_where_it_was_raised_and_what_it_asserted():
    from funcs.sincos import SPEC as SINCOS
    from tests.corpus import planted_kind_bugs
    from tests.corpus.planted_kind_bugs import SinCosAssertsBothGrads  # not a test module: its assert is not rewritten

    spec = dataclasses.replace(SINCOS, function=SinCosAssertsBothGrads.apply, function_class=SinCosAssertsBothGrads)
    x = torch.tensor([0.5, 1.0], dtype=torch.float64)
    with pytest.raises(AssertionError) as raised:
        check_unused_outputs(spec, args=(x,), cotangents=(torch.ones_like(x), torch.ones_like(x)))
    message = str(raised.value)
    assert "backward raised when every output's gradient is undefined" in message
    assert "AssertionError (no message), raised at" in message and planted_kind_bugs.__file__ in message
    assert "assert grad_sin is not None and grad_cos is not None" in message


def test_an_exception_that_says_nothing_is_described_by_where_it_was_raised():
    from autograd_props.messages import described

    try:
        raise NotImplementedError()
    except NotImplementedError as exc:
        text = described(exc)
    assert text.startswith("NotImplementedError (no message), raised at ") and "raise NotImplementedError()" in text
    assert described(ValueError("bad shape\nmore")) == "ValueError: bad shape"
    assert described(KeyError()) == "KeyError (no message)"  # never raised: no traceback to read
