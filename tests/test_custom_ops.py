"""torch.library custom ops as the Function under test: how a spec holds one, what it claims,
and the checks that only a custom op has (declared mutations, fake strides, opcheck's cells)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import autograd_props
from autograd_props import FunctionSpec, SpecError, compat
from autograd_props.properties.forward_ad import CUSTOM_OP_NOTE
from autograd_props.properties.meta_device import check_meta_device
from autograd_props.properties.no_mutation import check_no_mutation
from autograd_props.results import NOT_CLAIMED
from funcs.square import SPEC as SQUARE

pytestmark = pytest.mark.skipif(
    not hasattr(torch.library, "custom_op"), reason=f"torch {torch.__version__} has no torch.library.custom_op (torch 2.4+)"
)

if hasattr(torch.library, "custom_op"):
    from funcs.silu_op import SPEC as SILU_OP
    from funcs.silu_op import silu
    from tests.corpus.planted_custom_op_bugs import OPS as PLANTED

    @torch.library.custom_op("autograd_props_tests::count_large", mutates_args=("count",))
    def count_large(x: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        count.add_((x.abs() > 1).sum())  # declared: the schema says count is written
        return x.clamp(-1, 1)

    @torch.library.custom_op("autograd_props_tests::silu_once", mutates_args=())
    def silu_once(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.silu(x)

    silu_once.register_autograd(
        torch.autograd.function.once_differentiable(lambda ctx, g: g * torch.sigmoid(ctx.x) * (1 + ctx.x * torch.sigmoid(-ctx.x))),
        setup_context=lambda ctx, inputs, output: setattr(ctx, "x", inputs[0]),
    )


    @torch.library.custom_op("autograd_props_tests::silu_grad", mutates_args=())
    def silu_grad(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten.silu_backward(grad, x)  # a backward kernel of its own, no autograd

    @torch.library.custom_op("autograd_props_tests::silu_two_ops", mutates_args=())
    def silu_two_ops(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.silu(x)

    silu_two_ops.register_autograd(
        lambda ctx, g: silu_grad(ctx.saved_tensors[0], g), setup_context=lambda ctx, inputs, output: ctx.save_for_backward(inputs[0])
    )


def test_a_custom_op_whose_backward_is_another_op_without_autograd_does_not_claim_double_backward():
    from autograd_props.properties.double_backward import check_double_backward

    spec = dataclasses.replace(SILU_OP, name="silu_two_ops", function=silu_two_ops)
    x = torch.tensor([0.5, -2.0], dtype=torch.float64)
    verdict = check_double_backward(spec, args=(x,), cotangents=(torch.ones(2, dtype=torch.float64),),
                                    directions=(torch.ones(2, dtype=torch.float64),), probes=(torch.ones(2, dtype=torch.float64),) * 2)
    assert verdict.notes[0].startswith(f"{NOT_CLAIMED}: the custom op's backward is not differentiable, and double backward raised")
    report = autograd_props.check(spec, properties=["vjp_native"], dtypes=[torch.float64], max_examples=5)
    assert report.outcomes == {"vjp_native": "passed"}


def test_a_custom_op_is_accepted_by_any_of_its_names_and_checked():
    for function in (silu, torch.ops.autograd_props_funcs.silu, torch.ops.autograd_props_funcs.silu.default):
        spec = dataclasses.replace(SILU_OP, function=function)
        assert spec.custom_op is silu and spec.function_class is None
        assert spec.function_label == "custom op autograd_props_funcs::silu"
    report = autograd_props.check(spec, properties=["vjp_native", "gradient_contract"], dtypes=[torch.float64], max_examples=5)
    assert report.outcomes == {"vjp_native": "passed", "gradient_contract": "passed"}


def test_claims_are_read_from_the_registrations():
    assert (SILU_OP.claims_vmap, SILU_OP.claims_double_backward, SILU_OP.claims_forward_ad, SILU_OP.supports_functorch) == (
        True, True, False, False,
    )
    once = dataclasses.replace(SILU_OP, name="silu_once", function=silu_once)
    assert not once.claims_vmap and not once.claims_double_backward


def test_a_torch_operator_not_defined_with_custom_op_is_refused_with_the_reason():
    with pytest.raises(SpecError, match="not defined with torch.library.custom_op"):
        dataclasses.replace(SQUARE, name="aten_sin", function=torch.ops.aten.sin, function_class=None)


@pytest.mark.parametrize("field", ["function_class", "in_place"])
def test_fields_a_custom_op_cannot_use_are_refused(field):
    change = {"function_class": SQUARE.function_class, "in_place": (0,)}[field]
    with pytest.raises(SpecError, match=f"field '{field}'"):
        dataclasses.replace(SILU_OP, **{field: change})


def test_a_declared_mutation_passes_no_mutation_and_an_undeclared_one_is_named():
    spec = FunctionSpec(
        name="count_large", function=count_large, reference=lambda x, count: x.clamp(-1, 1),
        args=SQUARE.args, non_differentiable=(0, 1), dtypes=(torch.float64,), opt_outs={"vjp_finite_differences": "test"},
    )
    count = torch.zeros((), dtype=torch.int64)
    assert check_no_mutation(spec, args=(torch.tensor([2.0, 0.5]), count), cotangents=(torch.ones(2),)) == []
    undeclared = dataclasses.replace(SILU_OP, function=PLANTED["silu_undeclared_mutation"])
    with pytest.raises(AssertionError, match="silu_undeclared_mutation does not declare in mutates_args"):
        check_no_mutation(undeclared, args=(torch.tensor([float("nan"), 1.0], dtype=torch.float64),), cotangents=(torch.ones(2),))


def test_fake_strides_are_compared_with_the_kernels_on_transposed_arguments():
    contiguous_fake = dataclasses.replace(SILU_OP, function=PLANTED["silu_contiguous_fake"])
    x, cotangent = torch.ones(2, 3, dtype=torch.float64), torch.ones(2, 3, dtype=torch.float64)
    with pytest.raises(AssertionError, match=r"output 0 \(floating arguments transposed\): the fake implementation gives strides \(3, 1\)"):
        check_meta_device(contiguous_fake, args=(x,), cotangents=(cotangent,))
    assert check_meta_device(SILU_OP, args=(x,), cotangents=(cotangent,)) == []


def test_forward_mode_through_a_custom_op_is_reported_not_claimed():
    from autograd_props.properties.forward_ad import check_forward_ad

    x = torch.tensor([0.5, -1.0], dtype=torch.float64)
    verdict = check_forward_ad(SILU_OP, args=(x,), tangents=(torch.ones(2, dtype=torch.float64),), cotangents=(torch.ones(2, dtype=torch.float64),))
    assert verdict.notes[0] == CUSTOM_OP_NOTE or verdict.notes[0].startswith(f"{NOT_CLAIMED}: no jvp, and forward mode raised")


def test_opcheck_cells_apply_to_custom_ops_only():
    report = autograd_props.check(SQUARE, properties=["opcheck_schema"], dtypes=[torch.float64])
    assert report.outcomes == {"opcheck_schema": "not-applicable"}
    report = autograd_props.check(SILU_OP, properties=["opcheck_faketensor"], dtypes=[torch.float64], max_examples=3)
    assert report.outcomes == {"opcheck_faketensor": "passed"}


def test_opcheck_cells_are_skipped_with_the_version_where_torch_has_no_opcheck(monkeypatch):
    monkeypatch.delattr(torch.library, "opcheck")
    compat._opcheck_unavailable.cache_clear()  # cached per run, and this run has opcheck
    try:
        reason = compat.unsupported_reason("opcheck_schema")
    finally:
        monkeypatch.undo()
        compat._opcheck_unavailable.cache_clear()
    assert reason.startswith(f"torch {torch.__version__} on Python") and "no torch.library.opcheck (torch 2.4+)" in reason
