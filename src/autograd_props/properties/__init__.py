"""The registry of properties: one module each, in the order the report shows them.

Each module defines ``PROPERTY`` (a :class:`~autograd_props.properties.base.Property`: its check,
how it draws, which dtypes apply, its example budget), or ``PROPERTIES``, several of one kind.  The pytest gate, ``check()`` and the
report are all generated from ``REGISTRY``; nothing else lists the properties.
"""

from __future__ import annotations

from types import MappingProxyType

from autograd_props.properties import (
    compile,
    deterministic_backward,
    double_backward,
    extreme_values,
    forward,
    forward_ad,
    gradient_contract,
    layouts,
    memory,
    meta_device,
    needs_input_grad,
    no_mutation,
    opcheck,
    saved_tensor_hygiene,
    special_values,
    unused_outputs,
    vjp_finite_differences,
    vjp_native,
    vmap,
)
from autograd_props.properties.base import Property
from autograd_props.spec import FunctionSpec, fail

__all__ = ["PROPERTY_NAMES", "REGISTRY", "Property", "validate_opt_outs"]

REGISTRY: MappingProxyType[str, Property] = MappingProxyType(
    {
        prop.name: prop
        for module in (
            forward,
            vjp_native,
            vjp_finite_differences,
            gradient_contract,
            unused_outputs,
            no_mutation,
            saved_tensor_hygiene,
            needs_input_grad,
            deterministic_backward,
            forward_ad,
            double_backward,
            vmap,
            compile,
            layouts,
            special_values,
            extreme_values,
            memory,
            meta_device,
            opcheck,
        )
        for prop in getattr(module, "PROPERTIES", None) or (module.PROPERTY,)
    }
)
PROPERTY_NAMES: tuple[str, ...] = tuple(REGISTRY)


def validate_opt_outs(spec: FunctionSpec) -> FunctionSpec:
    """The spec, once every property it opts out of is known to the registry (else a SpecError)."""
    for prop in spec.opt_outs:
        if prop not in REGISTRY:
            fail(spec.name, "opt_outs", dict(spec.opt_outs), f"unknown property {prop!r}; known: {', '.join(PROPERTY_NAMES)}")
    return spec
