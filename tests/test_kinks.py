"""A sort that orders tied elements the other way gives, at each tie, one of the one-sided
derivatives, even where another element lies closer to the tie than any finite step (torch's own
custom_op_db numpy_sort on [0, 0, -1.2e-38]: a false alarm before the gradient beside the point)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from autograd_props import FunctionSpec, tensors
from autograd_props.kinks import classify, one_sided_derivatives
from autograd_props.properties.double_backward import check_double_backward
from autograd_props.properties.forward_ad import check_forward_ad
from autograd_props.properties.vjp_native import check_vjp_native
from autograd_props.properties.vmap import check_vmap

TINY32 = torch.finfo(torch.float32).tiny  # the element next to the tie, far closer than any step


def _tie_reversing_sort(scale: float) -> type[torch.autograd.Function]:
    class SortTiesLastFirst(torch.autograd.Function):
        """The values of x sorted, tied elements in reverse order (as an unstable sort may leave them)."""

        @staticmethod
        def forward(ctx, x):
            values, flipped = torch.sort(x.flip(0), stable=True)
            ctx.save_for_backward(x.numel() - 1 - flipped)
            return values

        @staticmethod
        def backward(ctx, grad):
            (order,) = ctx.saved_tensors
            return torch.zeros_like(grad).index_put_((order,), grad) * scale

    return SortTiesLastFirst


SORT = FunctionSpec(
    name="sort_ties_last_first", function=_tie_reversing_sort(1.0).apply, reference=lambda x: torch.sort(x, stable=True).values,
    args=lambda dtype, device: tensors(dtype=dtype, device=device, min_dims=1, max_dims=1).map(lambda x: (x,)),
)
X = torch.tensor([0.0, 0.0, -TINY32])
U = torch.tensor([1.0, 2.0, 3.0])  # the reference gives x0 2 and x1 3; this sort x0 3 and x1 2


def test_the_finite_step_crosses_the_near_element_so_its_differences_see_neither_tie_order():
    left, right = one_sided_derivatives(SORT.reference, (X,), 0, 1, (U,))
    assert (left, right) == pytest.approx((1.0, 3.0))  # x1 - h passes -tiny too: not the 2.0 this sort gives


def test_each_tied_element_takes_a_one_sided_derivative():
    got = torch.tensor([3.0, 2.0, 1.0])
    truth = torch.tensor([2.0, 3.0, 1.0])
    failing = got != truth
    calls = classify(SORT.reference, (X,), 0, (U,), failing, got, truth, torch.full_like(got, 1e-6))
    assert [c.index for c in calls] == [(0,), (1,)]
    assert all(c.one_sided for c in calls)
    assert (calls[1].left, calls[1].right) == pytest.approx((2.0, 3.0))  # the limits, beside the point


def test_an_element_whose_differences_see_no_kink_at_all_is_judged_beside_the_point_too():
    # numpy_sort's failing example: both zeros' steps cross -tiny, so x0's differences are 1 on both sides
    x = torch.tensor([0.0, 0.0, 1.0, -1.0, -TINY32])
    u = torch.tensor([1.0, 1.0, 2.0, 1.0, 1.0])
    assert one_sided_derivatives(SORT.reference, (x,), 0, 0, (u,)) == pytest.approx((1.0, 1.0))
    check_vjp_native(dataclasses.replace(SORT, kinks="any-one-sided"), args=(x,), cotangents=(u,))


def test_any_one_sided_accepts_the_other_tie_order_and_the_default_names_it():
    check_vjp_native(dataclasses.replace(SORT, kinks="any-one-sided"), args=(X,), cotangents=(U,))
    with pytest.raises(AssertionError, match="non-differentiable point"):
        check_vjp_native(SORT, args=(X,), cotangents=(U,))


def test_a_wrong_value_at_the_tie_still_fails_under_any_one_sided():
    wrong = dataclasses.replace(SORT, function=_tie_reversing_sort(2.0).apply, kinks="any-one-sided")  # twice either side
    with pytest.raises(AssertionError, match="out of tolerance"):
        check_vjp_native(wrong, args=(X,), cotangents=(U,))


def softplus_as_written(x: torch.Tensor) -> torch.Tensor:
    """Softplus as public code writes it: autograd gives slope 1 at 0 (clamp's convention), 0.5 is true."""
    return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))


def test_the_one_sided_differences_at_an_element_carry_no_rounding_of_large_outputs_elsewhere():
    # u . f summed first, the thousands elsewhere left rounding of 1e-12 in every difference,
    # 1e-6 after the step: more than the closeness allowed, so 0.5 at x = 0 was missed.
    x = torch.tensor([0.0, 3742.6562698029607, -5708.885452364709, 1497.9249495809308], dtype=torch.float64)
    u = torch.tensor([-0.1, 3.940952082278473, -3.904606826463774, -3.405977798609327], dtype=torch.float64)
    left, right = one_sided_derivatives(softplus_as_written, (x,), 0, 0, (u,))
    assert abs(left - -0.05) < 1e-9 and abs(right - -0.05) < 1e-9, (left, right)


def test_the_formula_s_convention_at_its_kink_is_no_failure_where_the_function_has_the_true_slope():
    class Softplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return softplus_as_written(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * torch.sigmoid(x)

    spec = FunctionSpec(name="softplus_as_written", function=Softplus.apply, reference=softplus_as_written,
                        args=lambda dtype, device: tensors(dtype=dtype, device=device))
    x = torch.tensor([[0.0, 3742.6562698029607], [0.0, -5708.885452364709]], dtype=torch.float64)
    u = torch.tensor([[1.0351119625300644, 3.940952082278473], [-0.1, -3.904606826463774]], dtype=torch.float64)
    verdict = check_vjp_native(spec, args=(x,), cotangents=(u,))
    assert any("no one-sided derivative of its own forward" in note for note in verdict.notes), verdict.notes


# --- every property reads kinks='any-one-sided': second derivatives, tangents, torch.func ----------

class ReluZeroAtZero(torch.autograd.Function):
    """relu with slope 0 at 0 (torch.relu's choice), against a reference written as clamp_min(0),
    whose autograd slope at 0 is 1: both are one-sided derivatives there."""

    generate_vmap_rule = True
    AT_ZERO = 0.0  # the slope taken at 0

    @staticmethod
    def forward(x):
        return x.clamp_min(0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @classmethod
    def _slope(cls, x):
        return (x > 0).to(x.dtype) + cls.AT_ZERO * (x == 0).to(x.dtype)

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        return g * cls._slope(x)

    @classmethod
    def jvp(cls, ctx, t):
        (x,) = ctx.saved_tensors
        return t * cls._slope(x)


class ReluTwoAtZero(ReluZeroAtZero):
    AT_ZERO = 2.0  # neither one-sided derivative (0 and 1): wrong at the kink


def _relu_spec(function, kinks):
    return FunctionSpec(name="relu_at_zero", function=function.apply, reference=lambda x: x.clamp_min(0), kinks=kinks,
                        args=lambda dtype, device: tensors(dtype=dtype, device=device))


RELU_X = torch.tensor([0.0, 1.5, -2.0, 0.0], dtype=torch.float64)
RELU_U, RELU_V, RELU_W = (
    torch.tensor(values, dtype=torch.float64) for values in ([0.5, 1.0, -1.0, -3.0], [1.25, -1.0, 2.0, 1e-6], [-0.7, 0.3, 1.0, 2.0])
)
KINK_READING_CHECKS = {  # each check of a property that reads kinks, on the example above
    "forward_ad": lambda spec: check_forward_ad(spec, args=(RELU_X,), tangents=(RELU_V,), cotangents=(RELU_U,)),
    "double_backward": lambda spec: check_double_backward(
        spec, args=(RELU_X,), cotangents=(RELU_U,), directions=(RELU_V,), probes=(RELU_W, RELU_V)),
    "vmap": lambda spec: check_vmap(spec, args=(RELU_X,), batched={0: torch.stack([RELU_X, RELU_X.roll(1)])}, cotangents=(RELU_U,)),
}


def test_the_other_one_sided_slope_passes_every_property_under_any_one_sided():
    spec = _relu_spec(ReluZeroAtZero, "any-one-sided")
    notes = [note for check in KINK_READING_CHECKS.values() for note in check(spec).notes]
    for what in ("jvp of output 0", "second derivative w.r.t. cotangent 0", "fwd-over-rev", "torch.func.vjp", "torch.func.grad", "jacrev"):
        assert any(what in note and "one-sided limits" in note for note in notes), (what, notes)


@pytest.mark.parametrize("prop, failure", [("forward_ad", "jvp of output 0"), ("double_backward", "second derivative w.r.t. cotangent 0"),
                                           ("vmap", "torch.func.vjp")])
@pytest.mark.parametrize("function, kinks", [(ReluZeroAtZero, "reference"), (ReluTwoAtZero, "any-one-sided")])
def test_the_default_rule_and_a_slope_no_side_has_still_fail(function, kinks, prop, failure):
    with pytest.raises(AssertionError, match=failure):
        KINK_READING_CHECKS[prop](_relu_spec(function, kinks))


def clip_as_written(x: torch.Tensor) -> torch.Tensor:
    """A clip to [0, 1] in the index-assignment style public code uses: slope 1 at both bounds under autograd."""
    out = x.clone()
    out[x < 0] = 0
    out[x > 1] = 1
    return out


class ClipZeroOne(torch.autograd.Function):
    """The clip with a backward of 0 at both bounds, the other side of each."""

    AT_BOUNDS = 0.0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return clip_as_written(x)

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        grad = g.clone()
        grad[(x <= 0) | (x >= 1)] = 0
        return grad + cls.AT_BOUNDS * g * ((x == 0) | (x == 1))


class ClipHalfAtBounds(ClipZeroOne):
    AT_BOUNDS = 0.5  # neither side (0 or 1)


@pytest.mark.parametrize("function, passes", [(ClipZeroOne, True), (ClipHalfAtBounds, False)])
def test_a_jump_along_a_small_cotangent_is_a_kink(function, passes):
    # along u = 1e-5 a slope's jump of 1 is a jump of 1e-5, read as none while the scale had a floor of 1
    spec = FunctionSpec(name="clip01", function=function.apply, reference=clip_as_written, kinks="any-one-sided",
                        args=lambda dtype, device: tensors(dtype=dtype, device=device))
    x = torch.tensor([1.0, 1.0, 0.0, 0.5], dtype=torch.float64)
    u = torch.tensor([1e-5, -7e-5, 1e-5, 1.0], dtype=torch.float64)
    if passes:
        check_vjp_native(spec, args=(x,), cotangents=(u,))
    else:
        with pytest.raises(AssertionError, match="out of tolerance"):
            check_vjp_native(spec, args=(x,), cotangents=(u,))
