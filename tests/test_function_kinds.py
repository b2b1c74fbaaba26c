"""The harness pieces behind the kinds of Function: in-place calls and nondeterministic sums."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from autograd_props.in_place import calling_in_place
from autograd_props.nondeterminism import same_up_to_order
from funcs.scale_in_place import SPEC as SCALE_IN_PLACE


def test_an_in_place_call_leaves_the_callers_tensor_alone_and_returns_the_modified_clone_last():
    x = torch.tensor([1.0, -2.0])
    outs = SCALE_IN_PLACE.function(x, 3.0)
    assert torch.equal(x, torch.tensor([1.0, -2.0]))
    assert len(outs) == 2 and torch.equal(outs[1], torch.tensor([3.0, -6.0]))
    leaf = torch.tensor([1.0], requires_grad=True)  # reaches the Function as a non-leaf
    _, modified = SCALE_IN_PLACE.function(leaf, 2.0)
    assert modified.grad_fn is not None and type(modified.grad_fn).__name__ == "ScaleInPlaceBackward"


def test_replacing_fields_of_an_in_place_spec_wraps_once():
    again = dataclasses.replace(SCALE_IN_PLACE, name="again")
    assert len(again.function(torch.ones(2), 2.0)) == 2
    assert len(again.reference(torch.ones(2), 2.0)) == 2


def test_an_in_place_position_that_is_not_a_tensor_is_named():
    call = calling_in_place(lambda x, s: x, (1,), what="scale")
    with pytest.raises(TypeError, match="scale: in_place names argument 1, which is float"):
        call(torch.ones(1), 2.0)


def test_sums_in_another_order_pass_only_within_the_declared_ulps():
    a = torch.tensor([1.0, float("nan"), float("inf")], dtype=torch.float32)
    b = a.clone()
    b[0] = torch.nextafter(a[0], torch.tensor(2.0))
    def size():
        return torch.ones(3)

    assert same_up_to_order(a, a.clone(), 0, size)
    assert not same_up_to_order(a, b, 0, size)
    assert same_up_to_order(a, b, 2, size)
    assert not same_up_to_order(a, b, 2, lambda: torch.full((3,), 0.25))  # 1 ulp of 1 > 2 ulps of 0.25
    c = b.clone()
    c[2] = -float("inf")
    assert not same_up_to_order(a, c, 1e9, size)


class _ArgMax(torch.autograd.Function):
    """Indices only, like a vector quantizer's codes: autograd never calls backward."""

    @staticmethod
    def forward(ctx, x):
        index = x.argmax(-1)
        ctx.mark_non_differentiable(index)
        return index

    @staticmethod
    def backward(ctx, grad_index):
        raise RuntimeError("not differentiable")


def test_a_function_with_only_integer_outputs_passes_the_gradient_contract():
    import autograd_props
    from autograd_props import FunctionSpec, shapes, tensors

    spec = FunctionSpec(
        name="argmax_only", function=_ArgMax.apply, reference=lambda x: x.argmax(-1),
        args=lambda dtype, device: tensors(dtype=dtype, device=device, shape=shapes(min_dims=1, min_side=1)).map(lambda x: (x,)),
    )
    report = autograd_props.check(spec, properties=["forward", "gradient_contract", "vjp_native"], dtypes=[torch.float64])
    assert report.outcomes == {"forward": "passed", "gradient_contract": "passed", "vjp_native": "passed"}
    notes = [note for cell in report.cells for note in cell.notes]
    assert any("backward is never called" in note for note in notes)


class _ReluAndMask(torch.autograd.Function):
    """relu(x) and its 0/1 mask as a float; ``leaks`` passes the mask's cotangent on."""

    leaks = False

    @classmethod
    def forward(cls, ctx, x):
        mask = (x > 0).to(x.dtype)
        ctx.save_for_backward(mask)
        return x * mask, mask

    @classmethod
    def backward(cls, ctx, grad_out, grad_mask):
        (mask,) = ctx.saved_tensors
        return grad_out * mask + (grad_mask if cls.leaks else 0)


class _ReluAndLeakyMask(_ReluAndMask):
    leaks = True


def _relu_and_mask(x):
    return torch.relu(x), (x > 0).to(x.dtype)


def test_an_output_requiring_grad_where_the_reference_has_none_fails_only_if_a_gradient_flows_through_it():
    import autograd_props
    from autograd_props import FunctionSpec, tensors

    def args(dtype, device):
        return tensors(dtype=dtype, device=device).map(lambda x: (x,))

    quiet = FunctionSpec(name="relu_and_mask", function=_ReluAndMask.apply, reference=_relu_and_mask, args=args)
    report = autograd_props.check(quiet, properties=["gradient_contract"], dtypes=[torch.float64])
    assert report.outcomes == {"gradient_contract": "passed"}
    assert any("output 1 requires grad but the reference's does not" in n for c in report.cells for n in c.notes)
    leaky = dataclasses.replace(quiet, name="relu_and_leaky_mask", function=_ReluAndLeakyMask.apply, function_class=_ReluAndLeakyMask)
    report = autograd_props.check(leaky, properties=["gradient_contract"], dtypes=[torch.float64], raise_on_failure=False)
    assert report.outcomes == {"gradient_contract": "failed"}
    assert "output 1 (torch.float64) passes a gradient on" in report.failed[0].error


def test_an_in_place_function_without_a_reference_is_compared_with_its_own_float64():
    import autograd_props

    spec = dataclasses.replace(SCALE_IN_PLACE, name="scale_in_place_alone", reference=None)
    assert not spec.has_reference
    x = torch.tensor([1.0, 3.0], dtype=torch.float32)
    out, modified = spec.reference(x, 0.5)  # the Function itself in float64, copied back in place
    assert modified.dtype == torch.float32 and torch.equal(modified, torch.tensor([0.5, 1.5]))
    report = autograd_props.check(spec, properties=["forward", "vjp_native", "gradient_contract"], dtypes=[torch.float64, torch.float32])
    assert report.outcomes == {"forward": "passed", "vjp_native": "passed", "gradient_contract": "passed"}
    skipped = {c.key: c.reason for c in report.cells if c.outcome == "not-applicable"}
    assert set(skipped) == {"forward[scale_in_place_alone-float64-cpu]", "vjp_native[scale_in_place_alone-float64-cpu]"}
    assert all(reason.startswith("no reference:") for reason in skipped.values())


def test_trailing_keywords_reach_the_function_and_its_reference_as_keyword_arguments():
    from autograd_props import Keywords
    from funcs.softmax_temperature import SPEC as SOFTMAX_T

    x = torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64)
    options = Keywords(dim=0, temperature=0.5)
    expected = torch.softmax(x / 0.5, 0)
    assert torch.allclose(SOFTMAX_T.function(x, options), expected)
    assert torch.allclose(SOFTMAX_T.reference(x, options), expected)
    assert SOFTMAX_T.differentiable((x, options)) == (0,)
    again = dataclasses.replace(SOFTMAX_T, name="again")  # wraps once: a second unpacking would fail
    assert torch.allclose(again.function(x, options), expected)


def test_keywords_refuse_tensors_and_changes_and_print_as_a_call_that_rebuilds_them():
    from autograd_props import Keywords

    with pytest.raises(TypeError, match=r"Keywords\(weight=...\) holds a tensor"):
        Keywords(weight=torch.ones(2))
    with pytest.raises(TypeError, match=r"Keywords\(pair=...\) holds a tensor"):
        Keywords(pair=(1, torch.ones(1)))
    options = Keywords(dim=-1, temperature=0.1, eps=None, dtype=torch.float16)
    with pytest.raises(AttributeError):
        options.dim = 0
    assert eval(repr(options), {"Keywords": Keywords, "torch": torch}) == options
    assert dict(options) == {"dim": -1, "temperature": 0.1, "eps": None, "dtype": torch.float16}


def test_a_reproducer_with_keywords_imports_them_and_runs():
    from autograd_props import Keywords
    from autograd_props.properties.forward import check_forward
    from autograd_props.reproducer import reproducer_code

    args = (torch.tensor([1.0, 3.0], dtype=torch.float64), Keywords(dim=0, temperature=2.0))
    code = reproducer_code(check_forward, "funcs", "softmax_temperature", {"args": args})
    assert "from autograd_props import Keywords, spec_named" in code
    exec(code, {})  # the Function is correct: the check passes
    plain = reproducer_code(check_forward, "funcs", "softmax", {"args": (args[0], 0)})
    assert "from autograd_props import spec_named" in plain


def test_the_keywords_strategy_draws_each_keyword_from_its_strategy():
    from hypothesis import given
    from hypothesis import strategies as st

    from autograd_props import Keywords, dims, keywords

    @given(keywords(dim=dims(2), temperature=st.floats(0.5, 2.0)))
    def drawn(options):
        assert isinstance(options, Keywords) and set(options) == {"dim", "temperature"}
        assert -2 <= options["dim"] <= 1 and 0.5 <= options["temperature"] <= 2.0

    drawn()


def test_forward_ad_takes_the_tangent_dtype_from_the_references_output():
    # torch.func.jvp gives a float64 tangent for a 0-d float32 tensor divided by a Python float
    # (torch 2.13); the Function's float32 tangent is right, and must not fail for it.
    from autograd_props import Keywords
    from autograd_props.properties.forward_ad import check_forward_ad
    from funcs.softmax_temperature import SPEC as SOFTMAX_T

    zero = torch.tensor(0.0)
    check_forward_ad(SOFTMAX_T, args=(zero, Keywords(dim=0, temperature=7.3)), tangents=(torch.tensor(1.0),), cotangents=(torch.tensor(1.0),))


def test_the_spec_wrappers_leave_torch_compile_of_an_in_place_function_correct():
    # A wrapper carrying MyFunction.apply's __self__ made dynamo treat it as a bound method: the
    # compiled scale-by-0 then gave gradient 1 instead of 0.
    from autograd_props.properties.compile import check_compile

    x, zero = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    check_compile(SCALE_IN_PLACE, args=(x, 0.0), cotangents=(x.clone(), zero))


def test_trailing_none_gradients_beyond_the_inputs_are_noted_not_failed():
    # entmax's sparsemax returns (grad, None, None, None) for three inputs; autograd drops the
    # trailing Nones by design, so a gate failing it would cry wolf on working code.
    from hypothesis import strategies as st

    from autograd_props import FunctionSpec, tensors
    from autograd_props.properties.gradient_contract import check_gradient_contract

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, unused):
            return 2 * x

        @staticmethod
        def backward(ctx, grad):
            return 2 * grad, None, None

    spec = FunctionSpec(name="double", function=Double.apply, reference=lambda x, unused: 2 * x,
                        args=lambda dtype, device: st.tuples(tensors(dtype=dtype, device=device), st.just(3)))
    verdict = check_gradient_contract(spec, args=(torch.ones(2), 3), cotangents=(torch.ones(2),))
    assert any("1 None beyond its 2 inputs" in note for note in verdict.notes)
