"""What decides a cell's verdict, as one digest: the verdict cache reuses a pass only while it is
unchanged.

A cell's fingerprint covers:

- the user's code: the source file of every *root* module of its spec (the module that built the
  spec, the Function class's module, or a custom op's function's, the modules of the reference and
  of ``args``), and of every module in the same *home* that one of them imports, transitively.
  A root's home is its top-level package (``mypkg`` for ``mypkg.checks``), or, for a module that is
  not in a package, the folder that holds it (and its subfolders).  Imports are read from the
  source (``import``, ``from ... import``, relative ones, and those inside functions); a module
  that was never imported is not part of it.  A root installed in site-packages (torch's
  ``F.softplus``, a library) counts by its distribution's version instead of its files;
- the spec's fields: the repr of each value, and for a callable its module, name, source,
  defaults and the values it closes over;
- the suite: its version and a digest of its own source, so that a changed property or oracle
  reruns everything;
- Python's, torch's and Hypothesis's versions; the Hypothesis profile, the settings that decide
  which examples are drawn (example budget, derandomization, phases, health checks) and the seed;
  the example time limit and the drawing sizes;
- the cell itself: property, dtype and device (and the GPU's name for a CUDA cell).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib.metadata
import inspect
import platform
import re
import sys
import sysconfig
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import hypothesis
import torch

import autograd_props

__all__ = ["RunSettings", "cell_fingerprint", "spec_digest", "suite_digest", "user_modules"]

# Memory addresses in reprs (``<function <lambda> at 0x7f...>``) change from run to run.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SUITE_TOP = autograd_props.__name__


def _sha(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def suite_digest() -> str:
    """The suite's version and the digest of every source file of the installed package."""
    root = Path(autograd_props.__file__).parent
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    return _sha(autograd_props.__version__, *(f"{p.relative_to(root)}:{_file_digest(p)}" for p in files))


@functools.lru_cache(maxsize=None)
def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=1)
def _installed_roots() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    return tuple(Path(paths[k]).resolve() for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths)


def _file_of(module: types.ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _installed(path: Path) -> bool:
    """A file of the standard library or of an installed distribution (not the user's code)."""
    return any(part in ("site-packages", "dist-packages") for part in path.parts) or any(
        path.is_relative_to(root) for root in _installed_roots() if root.name not in ("site-packages", "dist-packages")
    )


def _home(name: str) -> Path | None:
    """The folder whose modules count as the same user's code as module ``name``."""
    top = sys.modules.get(name.partition(".")[0])
    if top is None:
        return None
    locations = list(getattr(top, "__path__", []) or [])
    if locations:  # a package: its folder
        return Path(locations[0]).resolve()
    file = _file_of(top)
    return file.parent if file is not None else None


def _imported_names(module: types.ModuleType, source: str) -> set[str]:
    """The modules ``module``'s source imports (only those loaded in this process)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    package = module.__package__ or ""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in sys.modules]
            found.update(submodules)
            if len(submodules) < len(node.names):  # a name defined in ``base`` itself
                found.add(base)
    return {name for name in found if name in sys.modules}


def user_modules(roots: Iterable[str]) -> dict[str, Path]:
    """Every module of the user's code that decides the roots' behaviour: the roots and what they
    import within their home, transitively (see the module docstring); name -> file."""
    found: dict[str, Path] = {}
    for root in roots:
        home = _home(root)
        if home is None:
            continue
        queue = [root]
        while queue:
            name = queue.pop()
            if name in found:
                continue
            module = sys.modules.get(name)
            file = _file_of(module) if module is not None else None
            if file is None or file.suffix != ".py" or _installed(file) or not file.is_relative_to(home):
                continue
            if name.partition(".")[0] in (_SUITE_TOP, "torch", "hypothesis"):
                continue
            found[name] = file
            queue.extend(_imported_names(module, file.read_text(encoding="utf-8", errors="replace")))
    return found


def _describe(value: Any, depth: int = 0) -> str:
    """A stable text for a spec field's value: reprs without addresses; callables by what they are."""
    if depth > 4:
        return "..."
    if isinstance(value, functools.partial):
        return f"partial({_describe(value.func, depth + 1)}, {_describe(value.args, depth + 1)}, {_describe(value.keywords, depth + 1)})"
    if isinstance(value, Mapping):
        items = sorted((_describe(k, depth + 1), _describe(v, depth + 1)) for k, v in value.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_describe(v, depth + 1) for v in value) + ")"
    if isinstance(value, type):
        return f"class {value.__module__}.{value.__qualname__}"
    if callable(value) and not isinstance(value, (torch.dtype, torch.Tensor)):
        return _describe_callable(value, depth)
    return _ADDRESS.sub("", repr(value))


def _describe_callable(fn: Any, depth: int) -> str:
    own = getattr(fn, "own_of", None)  # the spec's own-float64 reference: what it wraps
    if own is not None:
        return f"own float64 of {_describe(own, depth + 1)}"
    fn = inspect.unwrap(fn)
    bound_to = getattr(fn, "__self__", None)
    if isinstance(bound_to, type):  # MyFunction.apply
        return f"{_describe(bound_to, depth + 1)}.{getattr(fn, '__name__', '?')}"
    init = getattr(fn, "_init_fn", None)  # a torch.library custom op
    if init is not None:
        return f"custom op {getattr(fn, '_namespace', '')}::{getattr(fn, '_name', '')} of {_describe(init, depth + 1)}"
    parts = [f"{getattr(fn, '__module__', None)}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"]
    try:
        parts.append(inspect.getsource(fn))
    except (OSError, TypeError):
        parts.append(_ADDRESS.sub("", repr(fn)))
    parts.append(_describe(getattr(fn, "__defaults__", None), depth + 1))
    parts.append(_describe(getattr(fn, "__kwdefaults__", None), depth + 1))
    closure = getattr(fn, "__closure__", None) or ()
    for cell in closure:
        try:
            parts.append(_describe(cell.cell_contents, depth + 1))
        except ValueError:  # an empty cell
            parts.append("<empty>")
    return "\n".join(parts)


def _roots(spec: Any) -> list[Any]:
    """The objects whose modules are the spec's roots."""
    found = [spec.function_class, getattr(getattr(spec, "custom_op", None), "_init_fn", None), spec.args]
    reference = spec.reference
    found.append(getattr(reference, "own_of", None) or inspect.unwrap(reference) if reference is not None else None)
    return [f for f in found if f is not None]


@functools.lru_cache(maxsize=1)
def _distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _library_version(top: str) -> str:
    names = _distributions().get(top, [])
    versions = []
    for name in names:
        try:
            versions.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(name)
    return f"{top}: {', '.join(versions) or 'no distribution'}"


def spec_digest(spec: Any) -> str:
    """The digest of everything a spec's verdicts depend on, but the run's settings and the cell."""
    root_names = {spec.module} if spec.module else set()
    libraries = set()
    for obj in _roots(spec):
        name = getattr(obj, "__module__", None)
        module = sys.modules.get(name) if name else None
        file = _file_of(module) if module is not None else None
        if module is None or file is None:
            continue
        if _installed(file):
            top = name.partition(".")[0]
            if top not in ("torch", _SUITE_TOP):  # their versions are in every key anyway
                libraries.add(_library_version(top))
        else:
            root_names.add(name)
    modules = user_modules(sorted(root_names))
    fields = [f"{f.name}={_describe(getattr(spec, f.name))}" for f in dataclasses.fields(spec)]
    return _sha(
        *(f"module {name} {_file_digest(path)}" for name, path in sorted(modules.items())),
        *sorted(libraries),
        *fields,
    )


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a run decides about every cell's examples."""

    profile: str
    settings: hypothesis.settings
    seed: object | None  # --hypothesis-seed
    example_timeout: float | None
    large_sizes: bool

    @property
    def deterministic(self) -> bool:
        """Whether a rerun draws the same examples (a derandomized profile, or a seed given)."""
        return bool(self.settings.derandomize) or self.seed is not None

    def digest(self) -> str:
        s = self.settings
        return _sha(
            self.profile,
            f"max_examples={s.max_examples}",
            f"derandomize={s.derandomize}",
            f"phases={sorted(p.name for p in s.phases)}",
            f"suppress_health_check={sorted(h.name for h in s.suppress_health_check)}",
            f"seed={self.seed!r}",
            f"example_timeout={self.example_timeout!r}",
            f"large_sizes={self.large_sizes}",
            f"python={platform.python_version()}",
            f"torch={torch.__version__}",
            f"hypothesis={hypothesis.__version__}",
            f"suite={suite_digest()}",
        )


def cell_fingerprint(spec_part: str, run_part: str, prop: str, dtype: str, device: str) -> str:
    """The fingerprint of one cell, from :func:`spec_digest` and :meth:`RunSettings.digest`."""
    hardware = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else ""
    return _sha(spec_part, run_part, prop, dtype, device, hardware)
