"""The benchmark input builders: every built-in spec has one, and custom and native agree on it."""

from __future__ import annotations

import pytest
import torch

from autograd_props import ComplexArgs
from benchmarks.inputs import (
    BUILDERS,
    EXTRA_REFERENCES,
    bench_input,
    builtin_specs,
    largest_divisor_at_most,
)

SPECS = builtin_specs()


def test_every_builtin_spec_has_a_builder():
    missing = [s.name for s in SPECS if s.name not in BUILDERS]
    assert not missing, f"add input builders for {missing} to benchmarks/inputs.py"


def test_unknown_spec_is_a_clear_key_error():
    with pytest.raises(KeyError, match="no benchmark input builder for spec 'nope'.*benchmarks/inputs.py"):
        bench_input("nope", 10)


@pytest.mark.parametrize(("n", "bound", "expected"), [(1, 1, 1), (1 << 20, 1024, 1024), (1000, 31, 25), (10, 3, 2), (13, 3, 1)])
def test_largest_divisor_at_most(n, bound, expected):
    assert largest_divisor_at_most(n, bound) == expected


@pytest.mark.parametrize("builtin", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("size", [1, 10, 1000, 32768])
def test_builder_gives_numel_and_agreeing_outputs(builtin, size):
    spec, numel = builtin, size
    inp = bench_input(spec.name, numel)
    parts = 2 if any(isinstance(a, ComplexArgs) for a in inp.args) else 1  # a complex x as its real view
    assert inp.args[0 if spec.name != "affine" else 1].numel() == numel * parts
    assert inp.which and all(inp.args[i].dtype == torch.float32 for i in inp.which)
    again = bench_input(spec.name, numel)
    for a, b in zip(inp.args, again.args):  # deterministic
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b
    custom = spec.function(*inp.args)
    for name, reference in {"native": spec.reference, **EXTRA_REFERENCES.get(spec.name, {})}.items():
        torch.testing.assert_close(custom, reference(*inp.args), msg=lambda m, name=name: f"{spec.name} vs {name}: {m}")
