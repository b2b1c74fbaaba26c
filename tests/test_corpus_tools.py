"""The corpus's side tools: the gradcheck anchor, the table, the soak's spec set."""

from __future__ import annotations

import pytest
import torch

from funcs import SPECS as BUILT_IN
from tests.corpus.gradcheck_anchor import (
    MODES,
    GradcheckOutcome,
    fixed_inputs,
    run_gradcheck,
)
from tests.corpus.mutants import MUTANTS
from tests.corpus.opcheck_anchor import run_opcheck
from tests.corpus.twins import TWINS
from tools import soak
from tools.corpus_table import MutantRow, property_filter, render


@pytest.mark.parametrize("name", list(TWINS))
def test_every_twin_has_fixed_float64_inputs(name):
    first, again = fixed_inputs(TWINS[name]), fixed_inputs(TWINS[name])
    wrt = [a for a in first if isinstance(a, torch.Tensor) and a.requires_grad]
    assert wrt and all(t.dtype in (torch.float64, torch.complex128) for t in wrt)
    assert [i for i, a in enumerate(first) if isinstance(a, torch.Tensor) and a.requires_grad] == list(
        TWINS[name].differentiable(first)
    )
    assert all(torch.equal(a, b) for a, b in zip(first, again) if isinstance(a, torch.Tensor))


def test_fixed_inputs_name_a_spec_without_them():
    with pytest.raises(KeyError, match="no fixed inputs for spec 'silu'"):
        fixed_inputs(next(s for s in BUILT_IN if s.name == "silu"))


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_anchor_catches_a_flipped_sign_and_passes_its_twin(mode):
    assert run_gradcheck(MUTANTS["SIGN_FLIP"].spec, mode).caught
    assert run_gradcheck(TWINS["softplus"], mode) == GradcheckOutcome(False, "")


def test_gradcheck_anchor_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode='fastest'"):
        run_gradcheck(TWINS["square"], "fastest")


def test_property_filter_selects_by_marker():
    assert property_filter({"vjp_native", "forward"}) == ["-m", "forward or vjp_native"]


def test_render_counts_what_each_checker_caught():
    caught, missed = GradcheckOutcome(True, "GradcheckError: Jacobian mismatch"), GradcheckOutcome(False, "")
    rows = [
        MutantRow("SIGN_FLIP", MUTANTS["SIGN_FLIP"], ("vjp_native",), 1, "args=[()]", {m: caught for m in MODES}, None),
        MutantRow("SMALL_RELATIVE_ERROR", MUTANTS["SMALL_RELATIVE_ERROR"], (), None, "", {m: missed for m in MODES}, missed),
    ]
    text = render(
        rows, {"softplus": True, "square": False}, {"softplus": {m: missed for m in MODES}, "square": {m: caught for m in MODES}},
        {"softplus": None, "square": caught},
    )
    assert "| autograd-props | 1 / 2 | 1 / 2 |" in text
    assert "| gradcheck slow | 1 / 2 | 1 / 2 |" in text
    assert "| opcheck (custom ops only) | 0 / 1 | 0 / 1 |" in text
    assert "| SMALL_RELATIVE_ERROR |" in text and "**missed**" in text
    assert "Missed by gradcheck fast: SMALL_RELATIVE_ERROR." in text
    assert "Missed by opcheck (custom ops): SMALL_RELATIVE_ERROR." in text


@pytest.mark.skipif(not hasattr(torch.library, "opcheck"), reason=f"torch {torch.__version__} has no torch.library.opcheck (torch 2.4+)")
def test_opcheck_anchor_applies_to_custom_ops_only():
    assert run_opcheck(TWINS["square"]) is None
    assert run_opcheck(TWINS["silu_op"]) == GradcheckOutcome(False, "")


def test_soak_covers_every_built_in_and_every_twin():
    names = [s.name for s in soak.SPECS]
    assert len(names) == len(set(names))
    assert {s.name for s in BUILT_IN} | set(TWINS) == set(names)


def test_soak_rejects_bad_seeds(capsys):
    with pytest.raises(SystemExit) as exit_info:
        soak.main(["--seeds", "1,x"])
    assert exit_info.value.code == 2
    assert "expected comma-separated integers" in capsys.readouterr().err


def test_soak_rejects_an_unknown_spec_name_and_can_load_each_spec_by_name(capsys):
    with pytest.raises(SystemExit) as exit_info:
        soak.main(["--seeds", "1", "--only", "softmax_temperature,no_such_spec"])
    assert exit_info.value.code == 2
    assert "--only: no spec named no_such_spec" in capsys.readouterr().err
    from autograd_props import load_specs

    assert [s.name for s in load_specs("tools.soak_each:log_softmax_temperature")] == ["log_softmax_temperature"]
