"""Finding what a target defines: every ``torch.autograd.Function`` subclass and every
``torch.library.custom_op`` whose code lives in the target (not those it imports).

A target is a module name (``mypkg.ops``), a package (walked recursively), or a path: a ``.py``
file or a folder.  A path inside a package (folders with ``__init__.py`` up to the root) is
imported by its dotted name with the package root's parent on ``sys.path``; a folder without
``__init__.py`` has each of its ``.py`` files imported as a top-level module.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

__all__ = ["Found", "TargetError", "find", "modules_of"]


class TargetError(ValueError):
    """A discover target that names nothing importable."""


@dataclasses.dataclass(frozen=True)
class Found:
    """One Function (``kind="function"``: the class) or custom op (``kind="custom_op"``: its
    ``CustomOpDef``) and where it is defined."""

    kind: str
    obj: Any
    module: str
    name: str  # the class name, or the op's name without its namespace
    attr: str  # the module attribute it is bound to (what a written spec module imports)

    @property
    def where(self) -> str:
        return f"{self.module}.{self.name}" if self.kind == "function" else f"custom op {self.obj._qualname} ({self.module})"


def _on_path(folder: Path) -> None:
    text = str(folder)
    if text not in sys.path:
        sys.path.insert(0, text)


def _dotted(path: Path) -> str:
    """The dotted module name of a file or package folder, its package root put on sys.path."""
    parts = [path.stem if path.is_file() else path.name]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    _on_path(folder)
    return ".".join(parts)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise TargetError(f"cannot import {name!r}: {exc}") from exc
    except Exception as exc:  # the user's module itself is broken: say so, without a traceback
        raise TargetError(f"importing {name!r} raised {type(exc).__name__}: {exc}") from exc


def _walk(package: ModuleType) -> list[ModuleType]:
    """The package and every module under it, in a fixed (sorted) order."""
    modules = [package]
    names = sorted(info.name for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."))
    for name in names:
        modules.append(_import(name))
    return modules


def modules_of(target: str) -> list[ModuleType]:
    """Every module a target names (see the module docstring)."""
    if not isinstance(target, str) or not target.strip():
        raise TargetError(f"discover target {target!r}: expected a module name, a package or a path")
    target = target.strip()
    path = Path(target)
    if target.endswith(".py") or "/" in target or path.is_dir():
        path = path.resolve()
        if not path.exists():
            raise TargetError(f"discover target {target!r}: no such file or folder")
        if path.is_file():
            return [_import(_dotted(path))]
        if (path / "__init__.py").is_file():
            return _walk(_import(_dotted(path)))
        _on_path(path)
        return [_import(p.stem) for p in sorted(path.glob("*.py"))]
    module = _import(target)
    return _walk(module) if hasattr(module, "__path__") else [module]


def _custom_op_def() -> type | None:
    try:
        from torch._library.custom_ops import CustomOpDef
    except ImportError:  # torch < 2.4
        return None
    return CustomOpDef


def _is_own_function(value: Any, module: str) -> bool:
    return (
        isinstance(value, type)
        and issubclass(value, torch.autograd.Function)
        and value.__module__ == module
        # an abstract base that leaves forward to subclasses is not a Function to check
        and getattr(value, "forward", None) is not torch.autograd.Function.forward
    )


def _bound(module: ModuleType) -> list[tuple[str, Any]]:
    """(name, value) of the module's attributes and of the items of its top-level dicts, lists and
    tuples (a registry of ops), the items named ``ATTR[KEY]``."""
    items = []
    for attr, value in vars(module).items():
        items.append((attr, value))
        if isinstance(value, dict):
            items += [(f"{attr}[{key!r}]", v) for key, v in value.items()]
        elif isinstance(value, (list, tuple)):
            items += [(f"{attr}[{i}]", v) for i, v in enumerate(value)]
    return items


def _defines_op(op: Any, module: ModuleType, names: set[str]) -> bool:
    """Whether ``module`` defines ``op``: its kernel is the target's own, or the module made the op
    from a kernel it imported (the kernel's own module does not hold the op)."""
    kernel_module = getattr(getattr(op, "_init_fn", None), "__module__", None)
    if kernel_module in names:
        return True
    home = sys.modules.get(kernel_module or "")
    return home is not None and not any(v is op for _, v in _bound(home))


def find(modules: list[ModuleType]) -> list[Found]:
    """Every Function class and custom op defined in ``modules``, each once, in module order."""
    custom_op_def = _custom_op_def()
    names = {m.__name__ for m in modules}
    found: list[Found] = []
    seen: set[int] = set()
    for module in modules:
        for attr, value in _bound(module):
            if id(value) in seen:
                continue
            if _is_own_function(value, module.__name__) and "[" not in attr:
                found.append(Found("function", value, module.__name__, value.__name__, attr))
            elif custom_op_def is not None and isinstance(value, custom_op_def) and _defines_op(value, module, names):
                found.append(Found("custom_op", value, module.__name__, value._qualname.split("::")[-1], attr))
            else:
                continue
            seen.add(id(value))
    return found
