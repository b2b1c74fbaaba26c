"""autograd-props: property-based verification of custom torch.autograd Functions.

The public API::

    from autograd_props import FunctionSpec, tensors, check, gate

* :class:`FunctionSpec` describes one Function: what is checked, a native reference, a strategy
  for its arguments (see :mod:`autograd_props.strategies`: ``tensors``, ``elements``, ``shapes``,
  ``broadcastable_shapes``, ``indices``, ``masks``, ``dims``; and ``keywords`` for keyword
  arguments).  ``COMPLEX_DTYPES`` for a Function of complex tensors.
* :func:`check` runs the properties from Python, outside pytest.
* :func:`discover` infers the specs of every Function a module or package defines, with no spec
  written (``python -m autograd_props discover TARGET``).
* :func:`gate` adds the gate to a pytest suite; ``python -m autograd_props MODULE`` runs it as a
  command; the pytest plugin (``--funcs``, ``--devices``, ``--report-dir``, ...) is installed with
  the package.

Names are imported on first use, so the pytest plugin, which every pytest session of the
environment loads, costs nothing until a gate runs.
"""

# ruff: noqa: F401  (the TYPE_CHECKING imports name the public API; __getattr__ loads it)
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS = {
    "FunctionSpec": "autograd_props.spec",
    "SpecError": "autograd_props.spec",
    "FLOATING_DTYPES": "autograd_props.spec",
    "DEFAULT_TOLERANCES": "autograd_props.spec",
    "COMPLEX_DTYPES": "autograd_props.complex_views",
    "ComplexArgs": "autograd_props.complex_views",
    "tensors": "autograd_props.strategies",
    "elements": "autograd_props.strategies",
    "shapes": "autograd_props.strategies",
    "broadcastable_shapes": "autograd_props.strategies",
    "safe_max_abs": "autograd_props.strategies",
    "indices": "autograd_props.strategies",
    "masks": "autograd_props.strategies",
    "dims": "autograd_props.strategies",
    "Keywords": "autograd_props.keyword_args",
    "keywords": "autograd_props.keyword_args",
    "load_specs": "autograd_props.loading",
    "spec_named": "autograd_props.loading",
    "SpecSourceError": "autograd_props.loading",
    "PROPERTY_NAMES": "autograd_props.properties",
    "check": "autograd_props.checking",
    "CheckFailure": "autograd_props.checking",
    "CheckReport": "autograd_props.checking",
    "CellResult": "autograd_props.results",
    "gate": "autograd_props.plugin.gate",
    "discover": "autograd_props.discovery",
    "available_devices": "autograd_props.devices",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # for type checkers and readers; at run time __getattr__ imports on first use
    from autograd_props.checking import CheckFailure, CheckReport, check
    from autograd_props.complex_views import COMPLEX_DTYPES, ComplexArgs
    from autograd_props.devices import available_devices
    from autograd_props.discovery import discover
    from autograd_props.keyword_args import Keywords, keywords
    from autograd_props.loading import SpecSourceError, load_specs, spec_named
    from autograd_props.plugin.gate import gate
    from autograd_props.properties import PROPERTY_NAMES
    from autograd_props.results import CellResult
    from autograd_props.spec import (
        DEFAULT_TOLERANCES,
        FLOATING_DTYPES,
        FunctionSpec,
        SpecError,
    )
    from autograd_props.strategies import (
        broadcastable_shapes,
        dims,
        elements,
        indices,
        masks,
        safe_max_abs,
        shapes,
        tensors,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'autograd_props' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
