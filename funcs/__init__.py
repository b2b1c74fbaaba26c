"""The built-in custom Functions under test, and loading someone else's specs.

``SPECS`` is the built-in set.  ``load_specs("pkg.module[:ATTR]")`` loads another set: ATTR
(default ``SPECS``) names a single FunctionSpec or an iterable of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from funcs.spec import FunctionSpec, SpecError

__all__ = ["SPECS", "FunctionSpec", "SpecError", "SpecSourceError", "load_specs", "spec_named"]


class SpecSourceError(ValueError):
    """A ``--funcs`` / AUTOGRAD_PROPS_FUNCS value that does not lead to FunctionSpecs."""


def _builtin_specs() -> tuple[FunctionSpec, ...]:
    from funcs import affine, exp, grad_reverse, layernorm, linear, logsumexp, relu, silu, softmax, square

    return (
        square.SPEC,
        affine.SPEC,
        exp.SPEC,
        silu.SPEC,
        logsumexp.SPEC,
        linear.SPEC,
        softmax.SPEC,
        layernorm.SPEC,
        relu.SPEC,
        grad_reverse.SPEC,
    )


def load_specs(source: str) -> tuple[FunctionSpec, ...]:
    """The specs named by ``pkg.module[:ATTR]``; errors name the part that failed."""
    if not isinstance(source, str) or not source.strip():
        raise SpecSourceError(f"spec source {source!r}: expected 'pkg.module' or 'pkg.module:ATTR'")
    module_name, _, attr = source.strip().partition(":")
    attr = attr or "SPECS"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecSourceError(f"cannot import module {module_name!r} (from {source!r}): {exc}") from exc
    except SpecError as exc:
        raise SpecSourceError(f"module {module_name!r} defines a malformed spec: {exc}") from exc
    except Exception as exc:  # the user's module itself is broken: say so, without a traceback
        raise SpecSourceError(
            f"importing module {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    try:
        value = getattr(module, attr)
    except AttributeError:
        raise SpecSourceError(f"module {module_name!r} has no attribute {attr!r} (from {source!r})") from None
    specs = (value,) if isinstance(value, FunctionSpec) else value
    if not isinstance(specs, Iterable) or isinstance(specs, (str, bytes)):
        raise SpecSourceError(f"{source!r}: {attr} is a {type(value).__name__}, not a FunctionSpec or an iterable of them")
    specs = tuple(specs)
    for i, spec in enumerate(specs):
        if not isinstance(spec, FunctionSpec):
            raise SpecSourceError(f"{source!r}: {attr}[{i}] is a {type(spec).__name__}, not a FunctionSpec")
    if not specs:
        raise SpecSourceError(f"{source!r}: {attr} holds no FunctionSpec")
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecSourceError(f"{source!r}: spec names must be unique; repeated: {', '.join(duplicates)}")
    return specs


def spec_named(source: str, name: str) -> FunctionSpec:
    """One spec by name from a source (used by the reproducers the suite prints)."""
    for spec in load_specs(source):
        if spec.name == name:
            return spec
    raise SpecSourceError(f"{source!r} has no spec named {name!r}")


SPECS: tuple[FunctionSpec, ...] = _builtin_specs()
