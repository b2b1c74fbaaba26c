"""The gate as pytest tests: a test class with one test per registered property.

In a user's own test suite, one line adds the gate over their specs::

    # tests/test_autograd.py
    from autograd_props import gate

    TestMyFunctions = gate("mypkg.checks")  # or gate(SPECS), or gate() for --funcs / $AUTOGRAD_PROPS_FUNCS

The plugin parametrizes each test over the specs x dtypes x devices (see ``pytest_generate_tests``
in :mod:`autograd_props.plugin`).
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from autograd_props.cell import Cell
from autograd_props.plugin.incremental import reuse_pass
from autograd_props.plugin.session import budget_of
from autograd_props.properties import REGISTRY, Property
from autograd_props.runner import run_cell
from autograd_props.spec import FunctionSpec

__all__ = ["GATE_ATTRIBUTE", "PROPERTY_ATTRIBUTE", "gate"]

GATE_ATTRIBUTE = "__autograd_props_specs__"  # on the class: what gate() was given
PROPERTY_ATTRIBUTE = "__autograd_props_property__"  # on each test: its property's name


def _property_test(prop: Property):
    def test(self, cell: Cell, request: pytest.FixtureRequest) -> None:
        if reuse_pass(request.config, cell):  # unchanged since it passed: not run again
            return
        run_cell(cell, budget_of(request.config))

    test.__name__ = test.__qualname__ = f"test_{prop.name}"
    test.__doc__ = prop.summary
    setattr(test, PROPERTY_ATTRIBUTE, prop.name)
    return getattr(pytest.mark, prop.name)(test)


def gate(specs: str | FunctionSpec | Iterable[FunctionSpec] | None = None, *, name: str = "TestAutogradProps") -> type:
    """A pytest test class that runs every property over ``specs``.

    ``specs``: a source string (``"pkg.module"`` or ``"pkg.module:ATTR"``), a FunctionSpec, an
    iterable of them, or None for the session's specs (``--funcs``, ``$AUTOGRAD_PROPS_FUNCS``,
    else this checkout's built-in ``funcs``).  A source that cannot be loaded is a usage error
    (exit code 4) when pytest collects the class.
    """
    if not (specs is None or isinstance(specs, (str, FunctionSpec))):
        specs = tuple(specs)
    namespace = {GATE_ATTRIBUTE: specs, "__doc__": f"autograd-props: every property over {specs!r}"}
    namespace.update({f"test_{p.name}": _property_test(p) for p in REGISTRY.values()})
    return type(name, (), namespace)
