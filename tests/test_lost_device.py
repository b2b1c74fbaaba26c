"""A sticky accelerator error (an illegal memory access) loses the process's device context: the
cell that met it fails with an explanation, and later cells on that device fail at once, naming
it, instead of each failing with an error it did not cause.

CUDA is simulated on the CPU: a Function that raises CUDA's own error text on a marked input.  The
mechanism reads the error, not the device, so the cpu cells stand in for cuda ones.
"""

from __future__ import annotations

import sys

import pytest
import torch

from autograd_props import FunctionSpec, check, tensors
from autograd_props import lost_device

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

ILLEGAL = "CUDA error: an illegal memory access was encountered"


class CrashesOnNegativeZeroSum(torch.autograd.Function):
    """Doubles x; 'crashes the device' when drawn a tensor whose sum is negative."""

    @staticmethod
    def forward(ctx, x):
        if x.numel() and float(x.sum()) < 0:
            raise torch.AcceleratorError(ILLEGAL) if hasattr(torch, "AcceleratorError") else RuntimeError(ILLEGAL)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


SPEC = FunctionSpec(
    name="crashes_device",
    function=CrashesOnNegativeZeroSum.apply,
    reference=lambda x: x * 2,
    args=lambda dtype, device: tensors(dtype=dtype, device=device).map(lambda x: (x,)),
    dtypes=(torch.float64,),
)


@pytest.fixture(autouse=True)
def _fresh_devices():
    lost_device.forget()
    yield
    lost_device.forget()


@pytest.mark.parametrize(
    ("error", "sticky"),
    [
        (RuntimeError(ILLEGAL), True),
        (RuntimeError("CUDA error: device-side assert triggered"), True),
        (RuntimeError("CUDA error: out of memory"), False),  # recoverable: the next call may succeed
        (AssertionError("gradient differs by an illegal memory access"), False),  # not CUDA's error
        (ExceptionGroup("two", [ValueError("x"), RuntimeError(ILLEGAL)]), True),
    ],
)
def test_which_errors_lose_the_context(error, sticky):
    assert lost_device.is_sticky(error) is sticky


def test_an_error_raised_during_a_sticky_one_is_sticky():
    try:
        try:
            raise RuntimeError(ILLEGAL)
        except RuntimeError:
            raise ValueError("Hypothesis: flaky data generation")  # what Hypothesis raised at the next seed
    except ValueError as outer:
        assert lost_device.is_sticky(outer)


def test_later_cells_on_the_lost_device_are_not_run_and_name_the_cell_that_lost_it():
    report = check(SPEC, properties=["forward", "vjp_native", "no_mutation"], devices="cpu", raise_on_failure=False)
    first, *later = report.cells
    assert first.key == "forward[crashes_device-float64-cpu]" and first.outcome == "failed"
    assert ILLEGAL in first.failures[0].error
    assert any("context of this process is lost" in note for note in first.notes), first.notes
    assert [c.outcome for c in later] == ["failed", "failed"]
    for cell in later:
        assert cell.examples == 0, "a cell on a lost device must not run"
        (failure,) = cell.failures
        assert f"not run: the cpu context of this process was lost in {first.key}" in failure.error


def test_a_cell_on_another_device_still_runs():
    lost_device.mark_lost("cuda", "forward[other-float64-cuda]")
    report = check(SPEC, properties=["no_mutation"], devices="cpu", raise_on_failure=False)
    (cell,) = report.cells
    assert "not run" not in " ".join(f.error for f in cell.failures)
    assert cell.examples > 0
