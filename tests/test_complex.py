"""Complex tensors through their real views: the conversion both ways, what it keeps visible
(mutation, the reproducer), the strategies, the spec's dtypes, and the finite-difference rule
that complex |z| needed."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given

import autograd_props
from autograd_props import COMPLEX_DTYPES, ComplexArgs, FunctionSpec, SpecError, tensors
from autograd_props.complex_views import as_real_views
from autograd_props.properties import REGISTRY
from autograd_props.properties.double_backward import check_double_backward
from autograd_props.properties.no_mutation import check_no_mutation
from autograd_props.reproducer import reproducer_code
from funcs.complex_abs import SPEC as COMPLEX_ABS
from funcs.complex_mul import SPEC as COMPLEX_MUL

Z = torch.tensor([1 + 2j, -3 + 0.5j], dtype=torch.complex128)
W = torch.tensor([0.5 - 1j, 2 + 0j], dtype=torch.complex128)


def test_complex_arguments_cross_as_real_views_and_outputs_come_back_as_real_views():
    args = as_real_views((Z, 2.0, W))
    assert args[3] == ComplexArgs(0, 2) and args[0].dtype == torch.float64 and args[0].shape == (2, 2)
    assert torch.equal(torch.view_as_complex(args[0]), Z)
    out = COMPLEX_MUL.function(args[0], args[2], ComplexArgs(0, 1))
    assert torch.equal(out, torch.view_as_real(Z * W))
    real = (torch.ones(2), 3)
    viewed = as_real_views(real)
    assert len(viewed) == 2 and viewed[0] is real[0]  # no complex argument: unchanged, no marker


def test_the_marker_goes_before_trailing_keywords():
    from autograd_props import Keywords

    args = as_real_views((Z, Keywords(dim=0)))
    assert isinstance(args[1], ComplexArgs) and isinstance(args[2], Keywords)


def test_the_gradient_of_the_real_view_is_pytorchs_complex_gradient():
    x, y = (torch.view_as_real(t).clone().requires_grad_() for t in (Z, W))
    COMPLEX_MUL.function(x, y, ComplexArgs(0, 1)).pow(2).sum().backward()
    z, w = Z.clone().requires_grad_(), W.clone().requires_grad_()
    torch.view_as_real(z * w).pow(2).sum().backward()
    assert torch.allclose(torch.view_as_complex(x.grad), z.grad) and torch.allclose(torch.view_as_complex(y.grad), w.grad)


class _ConjInPlace(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        z.imag.neg_()  # modifies its input: the real view must show it
        return z.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad.conj()


def test_a_function_that_modifies_its_complex_input_is_seen_through_the_real_view():
    spec = dataclasses.replace(COMPLEX_ABS, name="conj_in_place", function=_ConjInPlace.apply, function_class=_ConjInPlace,
                               reference=torch.conj_physical)
    args = as_real_views((Z,))
    with pytest.raises(AssertionError, match="forward modified its input 0 in place"):
        check_no_mutation(spec, args=args, cotangents=(torch.ones(2, 2, dtype=torch.float64),))


def test_a_reproducer_with_complex_arguments_imports_the_marker_and_runs():
    from autograd_props.properties.forward import check_forward

    code = reproducer_code(check_forward, "funcs.complex_mul:SPEC", "complex_mul", {"args": as_real_views((Z, W))})
    assert "from autograd_props import ComplexArgs, spec_named" in code and "ComplexArgs(0, 1)" in code
    exec(compile(code, "reproducer", "exec"), {})  # noqa: S102 - the suite's own generated code


@given(tensors(dtype=torch.complex64, device="cpu"))
def test_complex_tensors_are_drawn_with_finite_parts_of_the_parts_dtype(z):
    assert z.dtype == torch.complex64 and bool(torch.isfinite(torch.view_as_real(z)).all())


def test_a_complex_spec_runs_the_float64_oracles_in_complex128():
    assert COMPLEX_MUL.dtypes == COMPLEX_DTYPES and COMPLEX_MUL.full_precision_dtype == torch.complex128
    assert REGISTRY["vjp_finite_differences"].dtypes_for(COMPLEX_MUL) == (torch.complex128,)
    assert COMPLEX_MUL.tolerance(torch.float32) == COMPLEX_MUL.tolerance(torch.complex64) == (1.3e-6, 1e-5)
    with pytest.raises(SpecError, match=r"float64 \(or complex128\) is needed"):
        FunctionSpec(name="c64", function=COMPLEX_MUL.function, reference=torch.mul, args=COMPLEX_MUL.args, dtypes=(torch.complex64,),
                     function_class=COMPLEX_MUL.function_class)


def test_real_inputs_with_a_complex_output_are_checked_through_the_output_view():
    class Polar(torch.autograd.Function):
        @staticmethod
        def forward(r, theta):
            return torch.polar(r, theta)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs, output)

        @staticmethod
        def backward(ctx, grad):
            r, _, out = ctx.saved_tensors
            unit = out / r
            return (grad.conj() * unit).real, (grad.conj() * 1j * out).real

    spec = FunctionSpec(name="polar", function=Polar.apply, reference=torch.polar, dtypes=(torch.float64,),
                        args=lambda dtype, device: tensors(dtype=dtype, device=device, shape=(3,),
                                                           elements_strategy=autograd_props.elements(dtype, min_abs=0.1, max_abs=10.0)
                                                           ).map(lambda r: (r.abs(), r)))
    report = autograd_props.check(spec, properties=["vjp_native", "vjp_finite_differences"], max_examples=10)
    assert report.outcomes == {"vjp_native": "passed", "vjp_finite_differences": "passed"}


def test_a_second_derivative_that_changes_below_the_step_is_left_to_the_native_oracle():
    # |z| next to z = 0: its second derivative is ~1 / |z|, which finite differences over a step
    # of 1e-4 cannot see at |z| = 3e-308; the old rule failed this correct Function here.
    tiny = 2.2250738585072014e-308
    args = (torch.tensor([[1.0, 1.0], [1.0, 1.0], [tiny, -tiny]], dtype=torch.float64), ComplexArgs(0))
    check_double_backward(
        COMPLEX_ABS, args=args, cotangents=(torch.ones(3, dtype=torch.float64),),
        directions=(torch.tensor([[0.6039101683333427, 0.0], [tiny, tiny], [tiny, tiny]], dtype=torch.float64),),
        probes=(torch.ones(3, 2, dtype=torch.float64), torch.tensor([0.0, tiny, tiny], dtype=torch.float64)),
    )
