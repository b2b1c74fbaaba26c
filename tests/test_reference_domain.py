"""An example on which the reference raises too (a singular matrix for an inverse) is the op's
domain: not judged, and noted.  A Function that raises where the reference does not is still a
failure."""

from __future__ import annotations

import pytest
import torch
from hypothesis import strategies as st

import autograd_props
from autograd_props import FunctionSpec, tensors
from autograd_props.profiles import CI
from autograd_props.reference_domain import outside_domain

PROPERTIES = ["forward", "vjp_native"]


class MatrixInverse(torch.autograd.Function):
    """Classic style, as public code writes an inverse: the op's own error on a singular matrix."""

    @staticmethod
    def forward(ctx, a):
        inv = torch.linalg.inv(a)
        ctx.save_for_backward(inv)
        return inv

    @staticmethod
    def backward(ctx, grad):
        (inv,) = ctx.saved_tensors
        return -inv.mT @ grad @ inv.mT


class MatrixInverseByCholesky(MatrixInverse):
    """The same through a Cholesky factor: right for symmetric positive-definite matrices only,
    and raising (the same LinAlgError) on matrices the reference inverts."""

    @staticmethod
    def forward(ctx, a):
        inv = torch.cholesky_inverse(torch.linalg.cholesky(a))
        ctx.save_for_backward(inv)
        return inv


def _square_matrices(dtype, device):
    return st.integers(1, 3).flatmap(lambda n: tensors(dtype=dtype, device=device, shape=(n, n))).map(lambda a: (a,))


def _spec(function_class) -> FunctionSpec:
    return FunctionSpec(name="matrix_inverse", function=function_class.apply, reference=torch.linalg.inv, args=_square_matrices)


NOT_JUDGED = "not judged where the Function raises _LinAlgError and so does the reference"


def test_a_singular_matrix_on_which_both_raise_is_not_judged_and_noted():
    report = autograd_props.check(_spec(MatrixInverse), properties=PROPERTIES, dtypes=[torch.float64], profile=CI)
    assert set(report.outcomes.values()) == {"passed"}, report.by_cell
    for cell in report.cells:
        assert any(note.startswith(NOT_JUDGED) for note in cell.notes), (cell.prop, cell.notes)


def test_raising_where_the_reference_does_not_is_still_a_failure():
    report = autograd_props.check(_spec(MatrixInverseByCholesky), properties=PROPERTIES, dtypes=[torch.float64], profile=CI, raise_on_failure=False)
    errors = {c.prop: c.error for c in report.failed}
    assert set(errors) == set(PROPERTIES), report.by_cell
    # Cholesky raises on a matrix that is not positive-definite, and reads one triangle of one that
    # is but is not symmetric (a wrong inverse): either is the finding, whichever is drawn first.
    assert all(("LinAlgError" in e and "cholesky" in e.lower()) or "out of tolerance" in e for e in errors.values()), errors
    swap = (torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64),)  # invertible, not positive-definite
    with pytest.raises(torch.linalg.LinAlgError) as raised:
        MatrixInverseByCholesky.apply(*swap)
    assert outside_domain(_spec(MatrixInverseByCholesky), swap, raised.value, raised_by="function") is None


@pytest.mark.parametrize("raised", [AssertionError("a verdict"), ValueError("other")])
def test_only_an_error_of_the_same_kind_from_the_reference_clears_the_function(raised):
    singular = (torch.zeros(2, 2, dtype=torch.float64),)
    assert outside_domain(_spec(MatrixInverse), singular, raised, raised_by="function") is None
    assert outside_domain(_spec(MatrixInverse), singular, torch.linalg.LinAlgError("x"), raised_by="function").startswith(NOT_JUDGED)
    assert outside_domain(_spec(MatrixInverse), (torch.eye(2, dtype=torch.float64),), torch.linalg.LinAlgError("x"), raised_by="function") is None
