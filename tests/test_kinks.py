"""A sort that orders tied elements the other way gives, at each tie, one of the one-sided
derivatives, even where another element lies closer to the tie than any finite step (torch's own
custom_op_db numpy_sort on [0, 0, -1.2e-38]: a false alarm before the gradient beside the point)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from autograd_props import FunctionSpec, tensors
from autograd_props.kinks import classify, one_sided_derivatives
from autograd_props.properties.vjp_native import check_vjp_native

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
