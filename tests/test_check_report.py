"""What ``check()`` returns and writes, beyond pass or fail: outcomes per spec and per cell, a
report header that says what the verdicts depend on, and spec mistakes raised as usage errors."""

from __future__ import annotations

import json

import pytest
import torch

import autograd_props
from autograd_props import SpecError
from funcs.square import SPEC as SQUARE
from tests.corpus.mistaken_specs import STRATEGY_RAISES, TENSOR_NOT_TUPLE, WRONG_REFERENCE
from tests.corpus.softplus_sign_flipped import SPECS as SIGN_FLIPPED


def test_outcomes_per_spec_and_per_cell(tmp_path):
    report = autograd_props.check(
        [SQUARE, SIGN_FLIPPED[0]], properties=["forward", "vjp_native"], dtypes=[torch.float64], raise_on_failure=False, report_dir=tmp_path
    )
    assert report.by_spec == {
        "square": {"forward": "passed", "vjp_native": "passed"},
        "softplus": {"forward": "passed", "vjp_native": "failed"},
    }
    assert report.by_cell["vjp_native[softplus-float64-cpu]"] == "failed"
    assert report.by_cell["vjp_native[square-float64-cpu]"] == "passed"
    assert report.outcomes == {"forward": "passed", "vjp_native": "failed"}  # the most telling over both specs
    header = json.loads((tmp_path / "verification.json").read_text())["header"]
    assert header["specs from"] == "check(square, softplus)"
    assert header["torch"] == torch.__version__ and {"python", "hypothesis", "profile", "devices", "date"} <= set(header)


@pytest.mark.parametrize(("spec", "field"), [(WRONG_REFERENCE, "reference"), (TENSOR_NOT_TUPLE, "args"), (STRATEGY_RAISES, "args")])
def test_a_spec_mistake_is_raised_as_a_spec_error_naming_the_field(spec, field):
    with pytest.raises(SpecError, match=f"field '{field}'"):
        autograd_props.check(spec, properties=["forward"], dtypes=[torch.float64])

