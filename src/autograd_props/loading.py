"""Where specs come from: ``pkg.module[:ATTR]`` strings, as ``--funcs``, the environment variable
``AUTOGRAD_PROPS_FUNCS`` and the command line give them.

``load_specs("pkg.module")`` reads ``pkg.module.SPECS``; ``load_specs("pkg.module:ATTR")`` reads
ATTR, a single FunctionSpec or an iterable of them; ``load_specs("discover:TARGET")`` infers the
specs of every Function TARGET defines (``autograd_props.discovery``).  Every error names the
part that failed.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

from autograd_props.spec import FunctionSpec, SpecError

__all__ = ["BUILT_IN_SOURCE", "ENV_VAR", "SpecSourceError", "load_specs", "spec_named"]

ENV_VAR = "AUTOGRAD_PROPS_FUNCS"
# The checkout's own Functions, by name only: the package never imports them otherwise.
BUILT_IN_SOURCE = "funcs"


class SpecSourceError(ValueError):
    """A spec source (``--funcs``, AUTOGRAD_PROPS_FUNCS, a command argument) that does not lead to specs."""


def _import(module_name: str, source: str):
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecSourceError(f"cannot import module {module_name!r} (from {source!r}): {exc}") from exc
    except SpecError as exc:
        raise SpecSourceError(f"module {module_name!r} defines a malformed spec: {exc}") from exc
    except Exception as exc:  # the user's module itself is broken: say so, without a traceback
        raise SpecSourceError(f"importing module {module_name!r} raised {type(exc).__name__}: {exc}") from exc


def _as_specs(value: object, source: str, attr: str) -> tuple[FunctionSpec, ...]:
    specs = (value,) if isinstance(value, FunctionSpec) else value
    if isinstance(specs, Mapping):
        specs = specs.values()
    if not isinstance(specs, Iterable) or isinstance(specs, (str, bytes)):
        raise SpecSourceError(f"{source!r}: {attr} is a {type(value).__name__}, not a FunctionSpec or an iterable of them")
    specs = tuple(specs)
    for i, spec in enumerate(specs):
        if not isinstance(spec, FunctionSpec):
            raise SpecSourceError(f"{source!r}: {attr}[{i}] is a {type(spec).__name__}, not a FunctionSpec")
    if not specs:
        raise SpecSourceError(f"{source!r}: {attr} holds no FunctionSpec")
    return specs


def unique(specs: Iterable[FunctionSpec], source: str) -> tuple[FunctionSpec, ...]:
    """``specs`` as a tuple; two specs with one name are an error (test ids would collide)."""
    specs = tuple(specs)
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecSourceError(f"{source!r}: spec names must be unique; repeated: {', '.join(duplicates)}")
    return specs


def load_specs(source: str) -> tuple[FunctionSpec, ...]:
    """The specs named by ``pkg.module[:ATTR]``; errors name the part that failed."""
    if not isinstance(source, str) or not source.strip():
        raise SpecSourceError(f"spec source {source!r}: expected 'pkg.module' or 'pkg.module:ATTR'")
    if source.strip().startswith(DISCOVER_PREFIX):
        return _discovered(source.strip())
    module_name, _, attr = source.strip().partition(":")
    attr = attr or "SPECS"
    module = _import(module_name, source)
    try:
        value = getattr(module, attr)
    except AttributeError:
        raise SpecSourceError(f"module {module_name!r} has no attribute {attr!r} (from {source!r})") from None
    return unique(_as_specs(value, source, attr), source)


DISCOVER_PREFIX = "discover:"  # autograd_props.discovery's spec source


def _discovered(source: str) -> tuple[FunctionSpec, ...]:
    """The inferred specs of ``discover:TARGET`` (none is not an error: the Functions not
    inferred are the discovery's to report); a target that defines no Function is."""
    from autograd_props.discovery import TargetError, discover

    target = source[len(DISCOVER_PREFIX):]
    try:
        found = discover(target)
    except TargetError as exc:
        raise SpecSourceError(f"{source!r}: {exc}") from None
    if not found.found:
        raise SpecSourceError(f"{source!r}: defines no torch.autograd.Function subclass and no torch.library custom op")
    return unique(found, source)


def spec_named(source: str, name: str) -> FunctionSpec:
    """One spec by name: from ``source`` as :func:`load_specs` reads it, or, for a bare module
    without ``SPECS``, from any FunctionSpec (or collection of them) the module holds.

    This is how every reproducer the suite prints finds its spec again.
    """
    module_name, _, attr = source.partition(":")
    if attr or hasattr(_import(module_name, source), "SPECS"):
        candidates = load_specs(source)
    else:
        candidates = []
        for value in vars(_import(module_name, source)).values():
            if isinstance(value, FunctionSpec):
                candidates.append(value)
            elif isinstance(value, (list, tuple, dict)):
                items = value.values() if isinstance(value, dict) else value
                candidates += [v for v in items if isinstance(v, FunctionSpec)]
    for spec in candidates:
        if spec.name == name:
            return spec
    raise SpecSourceError(f"{source!r} has no spec named {name!r}")
