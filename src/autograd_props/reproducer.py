"""Pasteable reproducers: Python source that rebuilds a failing example and calls the check again.

The code imports the check from its own module and finds the spec with
:func:`autograd_props.spec_named`, so it runs in any Python session where the package and the
spec's module are importable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from autograd_props.complex_views import ComplexArgs
from autograd_props.keyword_args import Keywords, holds

__all__ = ["literal", "reproducer_code", "shapes_of"]


def _number(x: float) -> str:
    if math.isnan(x):
        return "float('nan')"
    if math.isinf(x):
        return "float('inf')" if x > 0 else "-float('inf')"
    return repr(x)


def _element(dtype: torch.dtype) -> Callable[[Any], str]:
    """How one element of a tensor of ``dtype`` is written so that it rebuilds exactly."""
    if dtype == torch.bool:
        return repr
    if dtype.is_complex:
        return lambda v: f"complex({_number(v.real)}, {_number(v.imag)})"
    if dtype.is_floating_point:
        return lambda v: _number(float(v))
    return lambda v: repr(int(v))  # integer tensors print as integers


def _nested(values: Any, element: Callable[[Any], str]) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v, element) for v in values) + "]"
    return element(values)


def literal(value: Any) -> str:
    """Python source that rebuilds ``value`` exactly (tensors of any dtype included)."""
    if isinstance(value, torch.Tensor):
        meta = f"dtype={value.dtype}, device={str(value.device)!r}"
        if value.numel() == 0 or value.device.type == "meta":
            return f"torch.empty({tuple(value.shape)}, {meta})"
        return f"torch.tensor({_nested(value.detach().cpu().tolist(), _element(value.dtype))}, {meta})"
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, torch.dtype):
        return str(value)
    if isinstance(value, torch.device):
        return f"torch.device({str(value)!r})"
    return repr(value)


def shapes_of(kwargs: dict[str, Any]) -> str:
    """``args=[(2, 3), 'float'], cotangents=[(2, 3)]``: the example's shapes at a glance."""

    def shape(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return tuple(v.shape)
        if isinstance(v, (tuple, list)):
            return [shape(x) for x in v]
        if isinstance(v, dict):
            return {k: shape(x) for k, x in v.items()}
        return type(v).__name__

    return ", ".join(f"{k}={shape(v)}" for k, v in kwargs.items())


def reproducer_code(check: Callable[..., Any], source: str, spec_name: str, kwargs: dict[str, Any]) -> str:
    """The lines that rebuild ``kwargs`` and call ``check`` on the spec named ``spec_name``."""
    call_args = "".join(f",\n    {k}={literal(v)}" for k, v in kwargs.items())
    markers = [cls.__name__ for cls in (ComplexArgs, Keywords) if holds(kwargs, cls)]
    names = ", ".join([*markers, "spec_named"])
    return (
        "import torch\n"
        f"from autograd_props import {names}\n"
        f"from {check.__module__} import {check.__name__}\n"
        f"spec = spec_named({source!r}, {spec_name!r})\n"
        f"{check.__name__}(spec{call_args})"
    )
