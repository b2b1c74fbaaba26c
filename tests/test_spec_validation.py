"""FunctionSpec and load_specs: malformed input raises errors that name the field and the value."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from autograd_props import (
    SpecError,
    SpecSourceError,
    load_specs,
    spec_named,
)
from autograd_props.plugin.session import specs_from
from autograd_props.properties import REGISTRY, validate_opt_outs
from funcs import SPECS
from funcs.square import SPEC as SQUARE


def _replace(**changes):
    return dataclasses.replace(SQUARE, **changes)


@pytest.mark.parametrize(
    ("changes", "field", "value_text"),
    [
        ({"name": ""}, "name", "''"),
        ({"name": "has space"}, "name", "'has space'"),
        ({"function": 3}, "function", "3"),
        ({"function": torch.square, "function_class": None}, "function", "square"),
        ({"function_class": int}, "function_class", "int"),
        ({"reference": 3}, "reference", "3"),
        ({"reference": None, "dtypes": (torch.float32,), "opt_outs": {"vjp_finite_differences": "x"}}, "dtypes", "without a reference"),
        ({"args": lambda: None}, "args", "lambda"),
        ({"dtypes": (torch.int32,)}, "dtypes", "torch.int32"),
        ({"dtypes": torch.float32}, "dtypes", "torch.float32"),
        ({"dtypes": (torch.float32,)}, "dtypes", "float64 (or complex128) is needed"),
        ({"dtypes": (torch.float64, torch.float64)}, "dtypes", "twice"),
        ({"tolerances": {torch.float32: (1e-3,)}}, "tolerances", "(0.001,)"),
        ({"tolerances": {torch.float32: (-1.0, 0.0)}}, "tolerances", "-1.0"),
        ({"opt_outs": {"vjp_native": "  "}}, "opt_outs", "non-empty reason"),
        ({"surrogate_gradient": ""}, "surrogate_gradient", "''"),
        ({"in_place": 0}, "in_place", "0"),
        ({"in_place": (0, 0)}, "in_place", "(0, 0)"),
        ({"nondet_ulps": -1.0}, "nondet_ulps", "-1.0"),
        ({"nondet_ulps": float("inf")}, "nondet_ulps", "inf"),
        ({"sizes": "huge"}, "sizes", "'huge'"),
        ({"chunk_sizes": 4096}, "chunk_sizes", "4096"),
        ({"chunk_sizes": (0,)}, "chunk_sizes", "(0,)"),
    ],
)
def test_malformed_spec_names_field_and_value(changes, field, value_text):
    with pytest.raises(SpecError) as info:
        _replace(**changes)
    message = str(info.value)
    assert f"field {field!r}" in message
    assert value_text in message


def test_an_opt_out_of_an_unknown_property_is_refused_when_the_spec_is_loaded():
    spec = _replace(opt_outs={"vjp_nativ": "typo"})
    with pytest.raises(SpecError, match="field 'opt_outs'.*unknown property 'vjp_nativ'"):
        validate_opt_outs(spec)
    with pytest.raises(SpecSourceError, match="field 'opt_outs'"):
        specs_from(["tests.corpus.malformed_spec"])


def test_opt_out_and_surrogate_skip_reasons():
    spec = _replace(opt_outs={"deterministic_backward": "uses atomics"}, surrogate_gradient="straight-through")
    f64 = torch.float64
    assert REGISTRY["deterministic_backward"].skip(spec, f64).message == "opted-out: uses atomics"
    assert REGISTRY["vjp_finite_differences"].skip(spec, f64).message == "opted-out: surrogate gradient: straight-through"
    assert REGISTRY["vjp_native"].skip(spec, f64) is None
    assert REGISTRY["double_backward"].skip(spec, torch.float16).outcome == "not-applicable"


def test_float64_may_be_dropped_only_with_an_opt_out_of_finite_differences():
    spec = _replace(dtypes=(torch.float32,), opt_outs={"vjp_finite_differences": "float32-only kernel"})
    assert spec.dtypes == (torch.float32,)


def test_spec_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SQUARE.name = "other"
    with pytest.raises(TypeError):
        SQUARE.opt_outs["forward"] = "sneaky"


def test_capabilities_are_read_from_the_function_class():
    assert SQUARE.function_class.__name__ == "Square"


def test_builtin_specs_have_unique_names():
    names = [s.name for s in SPECS]
    assert len(names) == len(set(names)) and {"square", "affine"} <= set(names)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("no_such_module_xyz", "cannot import module 'no_such_module_xyz'"),
        ("funcs.square:NOPE", "has no attribute 'NOPE'"),
        ("funcs.square:Square", "not a FunctionSpec"),
        ("autograd_props.properties:PROPERTY_NAMES", "PROPERTY_NAMES[0] is a str"),
        ("tests.corpus.mutants:MUTANTS", "MUTANTS[0] is a Mutant"),
        ("", "expected 'pkg.module'"),
    ],
)
def test_load_specs_errors_name_the_source(source, message):
    with pytest.raises(SpecSourceError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_specs(source)


def test_load_specs_accepts_a_single_spec_and_the_default_attribute():
    assert load_specs("funcs.square:SPEC") == (SQUARE,)
    assert load_specs("funcs") == SPECS
    assert spec_named("funcs", "affine").name == "affine"


def test_every_property_module_is_registered_under_its_own_name():
    import pkgutil

    import autograd_props.properties as package

    modules = {m.name for m in pkgutil.iter_modules(package.__path__)} - {"base"}
    module_of = {name: prop.check.__module__.removeprefix("autograd_props.properties.") for name, prop in REGISTRY.items()}
    assert modules == set(module_of.values())
    for name, module in module_of.items():  # a module of several properties prefixes their names
        assert name == module or name.startswith(f"{module}_")


def test_duplicate_names_are_rejected(tmp_path, monkeypatch):
    (tmp_path / "two_squares.py").write_text("from funcs.square import SPEC\nSPECS = [SPEC, SPEC]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SpecSourceError, match="repeated: square"):
        load_specs("two_squares")
