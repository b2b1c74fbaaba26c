"""How the suite meets an older torch: a kernel that torch lacks skips the cell with the versions
named, on torch < 2.5 only, and nothing else is skipped for it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import autograd_props
from autograd_props import FunctionSpec, compat, tensors

MISSING = "\"cumsum_out_cpu\" not implemented for 'Half'"  # torch 2.1's message, CPU float16 cumsum


def _raising(message: str):
    with compat.skip_where_torch_lacks_kernel(what="a Function", device="cpu"):
        raise RuntimeError(message)


def test_a_missing_kernel_skips_on_an_old_torch_naming_the_versions(monkeypatch):
    monkeypatch.setattr(compat, "TORCH_VERSION", (2, 1))
    with pytest.raises(pytest.skip.Exception, match=r"torch .* on Python .*: no cpu Half kernel for a Function: \"cumsum_out_cpu\""):
        _raising(MISSING)
    with pytest.raises(RuntimeError, match="a bug of its own"):
        _raising("a bug of its own")


def test_a_missing_kernel_fails_where_torch_has_the_kernels(monkeypatch):
    monkeypatch.setattr(compat, "TORCH_VERSION", (2, 5))
    with pytest.raises(RuntimeError, match="not implemented for 'Half'"):
        _raising(MISSING)


class _HalfLessBackward(torch.autograd.Function):
    """Doubles; its backward stops on a kernel the torch lacks at float16, as a cumsum does on 2.1."""

    @staticmethod
    def forward(x):
        return 2 * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad):
        if grad.dtype == torch.float16:
            raise RuntimeError(MISSING)
        return 2 * grad


SPEC = FunctionSpec(name="half_less", function=_HalfLessBackward.apply, reference=lambda x: 2 * x,
                    args=lambda dtype, device: tensors(dtype=dtype, device=device).map(lambda x: (x,)))


@pytest.mark.parametrize(("version", "float16"), [((2, 1), "skipped"), ((2, 13), "failed")])
def test_a_function_that_lacks_a_kernel_is_skipped_only_on_an_old_torch(monkeypatch, version, float16):
    monkeypatch.setattr(compat, "TORCH_VERSION", version)
    report = autograd_props.check(SPEC, properties=["vjp_native"], dtypes=[torch.float16, torch.float32], max_examples=5,
                                  raise_on_failure=False)
    assert {c.dtype: c.outcome for c in report.cells} == {"float16": float16, "float32": "passed"}
    if float16 == "skipped":
        assert "no cpu Half kernel for half_less" in next(c.reason for c in report.cells if c.dtype == "float16")


@pytest.mark.parametrize(("version", "fresh"), [((2, 1), True), ((2, 13), False)])
def test_the_compile_backend_is_made_afresh_where_torch_wraps_it_again_on_every_compile(monkeypatch, version, fresh):
    # torch 2.1 recursed past Python's limit at the 164th compile in one process with "aot_eager"
    monkeypatch.setattr(compat, "TORCH_VERSION", version)
    first, second = compat.compile_backend(), compat.compile_backend()
    assert (first is not second and callable(first)) if fresh else first == second == "aot_eager"


def test_planning_every_cell_leaves_dynamo_unimported_until_a_compile_cell_runs():
    # torch._dynamo takes about 2 s to import; most gate runs (a -m selection, a subprocess of the
    # corpus) run no compile cell, so neither importing the suite nor planning its cells may pay it.
    import subprocess
    import sys

    code = (
        "import sys, funcs; from autograd_props.properties import REGISTRY; from autograd_props.runner import plan\n"
        "cells = [c for p in REGISTRY.values() for c in plan(p, funcs.SPECS, ['cpu'])]\n"
        "assert any(c.prop == 'compile' and c.skip is None for c in cells)\n"
        "print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1], check=True)
    assert out.stdout.strip() == "False", out.stderr
