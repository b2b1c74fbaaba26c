"""The layouts property: a Function that raises on a layout is a finding, unless the native
reference raises the same kind of error on the same inputs (the op's own restriction)."""

from __future__ import annotations

import pytest
import torch

from autograd_props import FunctionSpec, tensors
from autograd_props.properties.layouts import check_layouts
from autograd_props.results import Verdict


class AsComplex(torch.autograd.Function):
    """Classic style, as HazyResearch/butterfly writes it: view_as_complex, which wants a last stride of 1."""

    @staticmethod
    def forward(ctx, x):
        return torch.view_as_complex(x)

    @staticmethod
    def backward(ctx, grad):
        return torch.view_as_real(grad)


class FlatView(torch.autograd.Function):
    """x.view(-1) * 2: view refuses an expanded input, where the reference (reshape) does not."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.view(-1) * 2

    @staticmethod
    def backward(ctx, grad):
        return (grad * 2).view(ctx.shape)


def _spec(name, function, reference):
    return FunctionSpec(name=name, function=function, reference=reference, args=lambda d, dev: tensors(dtype=d, device=dev).map(lambda x: (x,)))


def test_a_restriction_the_reference_shares_is_noted_not_failed():
    spec = _spec("as_complex", AsComplex.apply, torch.view_as_complex)
    x = torch.tensor([[1.0, 2.0], [3.0, -4.0]], dtype=torch.float64)
    verdict = Verdict.of(check_layouts(spec, args=(x,), cotangents=(torch.ones(2, 2, dtype=torch.float64),), layout="expanded", cotangent_layout="transposed"))
    assert any("so does the reference" in note for note in verdict.notes), verdict


def test_a_layout_only_the_function_refuses_is_a_finding():
    spec = _spec("flat_view", FlatView.apply, lambda x: x.reshape(-1) * 2)
    x = torch.tensor([[1.0, 2.0], [3.0, -4.0]], dtype=torch.float64)
    with pytest.raises(RuntimeError, match="view"):
        check_layouts(spec, args=(x,), cotangents=(torch.ones(4, dtype=torch.float64),), layout="transposed", cotangent_layout="transposed")


def test_an_odd_storage_offset_both_refuse_is_noted():
    # view_as_complex wants a storage offset divisible by 2; contiguous() keeps the offset of 3.
    spec = _spec("as_complex", AsComplex.apply, torch.view_as_complex)
    x = torch.tensor([1.0, 2.0], dtype=torch.float32)
    verdict = Verdict.of(check_layouts(spec, args=(x,), cotangents=(torch.ones(2, dtype=torch.float32),), layout="storage_offset", cotangent_layout="transposed"))
    assert any("storage_offset divisible by 2" in note for note in verdict.notes), verdict


class AsReal(torch.autograd.Function):
    """HazyResearch's ViewAsReal: its backward views grad_output as complex, which an expanded
    grad_output (a sum's) cannot be; native view_as_real's backward takes it."""

    @staticmethod
    def forward(ctx, z):
        return torch.view_as_real(z)

    @staticmethod
    def backward(ctx, grad):
        return torch.view_as_complex(grad)


def test_a_backward_that_refuses_an_expanded_grad_output_is_a_finding():
    from autograd_props.complex_views import as_real_views

    spec = FunctionSpec(name="as_real", function=AsReal.apply, reference=torch.view_as_real,
                        args=lambda d, dev: tensors(dtype=d, device=dev).map(lambda z: (z,)), dtypes=(torch.complex128,))
    args = as_real_views((torch.tensor([1.0 + 2.0j, -3.0j], dtype=torch.complex128),))
    with pytest.raises(RuntimeError, match="stride 1"):
        check_layouts(spec, args=args, cotangents=(torch.ones(2, 2, dtype=torch.float64),), layout="transposed", cotangent_layout="expanded")
