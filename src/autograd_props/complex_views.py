"""Complex tensors, checked through their real views.

A Function of complex tensors is checked as the real Function of their real and imaginary
parts, which is how gradcheck checks one: each complex argument reaches the properties as its
real view (``torch.view_as_real``: a float tensor of shape ``(..., 2)``), each complex output
leaves the Function as its real view, and the Function itself still sees complex tensors
(``torch.view_as_complex`` of the view, sharing its storage, so a mutation still shows).

Under PyTorch's convention the gradient of a real loss with respect to ``z = x + iy`` is
``dL/dx + i dL/dy``, so the real view of a complex Function's gradient is exactly the gradient
of the real Function with respect to ``(x, y)``.  Every property then applies unchanged: the
VJP against native autograd, the dot-product test with the real inner product
``Re(<u, J v>)`` along real and imaginary directions, forward AD, double backward, vmap, and
special values with complex infinities and NaNs (a component at a time).  A gradient missing
its ``conj()`` is a wrong real gradient, and fails like any other.

The drawn arguments carry a :class:`ComplexArgs` marker naming the positions that were complex
(inserted before a trailing ``Keywords``, else last): a constant argument to every property,
which the spec's wrapper removes before the call.  A reproducer prints the real views and the
marker, and rebuilds the same call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch

from autograd_props.keyword_args import Keywords

__all__ = ["COMPLEX_DTYPES", "ComplexArgs", "as_real_views", "calling_with_complex_views", "real_dtype"]

COMPLEX_DTYPES: tuple[torch.dtype, ...] = (torch.complex128, torch.complex64)
_REAL = {torch.complex128: torch.float64, torch.complex64: torch.float32}


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of a complex dtype's real and imaginary parts; a real dtype is its own."""
    return _REAL.get(dtype, dtype)


class ComplexArgs:
    """Which arguments of a call are real views of complex tensors (see the module docstring)."""

    __slots__ = ("positions",)

    def __init__(self, *positions: int) -> None:
        if not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in positions):
            raise TypeError(f"ComplexArgs{positions!r}: positions must be non-negative ints")
        object.__setattr__(self, "positions", tuple(positions))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ComplexArgs is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComplexArgs) and self.positions == other.positions

    def __hash__(self) -> int:
        return hash(self.positions)

    def __repr__(self) -> str:
        return f"ComplexArgs({', '.join(map(str, self.positions))})"


def as_real_views(args: Sequence[Any]) -> tuple[Any, ...]:
    """``args`` with each complex tensor replaced by a real view of a copy of it, and a
    :class:`ComplexArgs` marker naming those positions; unchanged when none is complex."""
    positions = tuple(i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_complex())
    if not positions:
        return tuple(args)
    viewed = [torch.view_as_real(a.resolve_conj().resolve_neg().clone()) if i in positions else a for i, a in enumerate(args)]
    at = len(viewed) - 1 if viewed and isinstance(viewed[-1], Keywords) else len(viewed)
    viewed.insert(at, ComplexArgs(*positions))
    return tuple(viewed)


def _as_complex(x: torch.Tensor, position: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() == 0 or x.shape[-1] != 2:
        raise TypeError(f"ComplexArgs names argument {position}, which is not a real view (..., 2) of a complex tensor")
    # view_as_complex shares storage, so a Function that modifies its input is seen doing so;
    # it needs pairs laid out as complex numbers (a dual tensor's tangent too).  Any other
    # layout (a transposed or strided view of the pairs) is built as a new complex tensor.
    try:
        return torch.view_as_complex(x)
    except RuntimeError:
        return torch.complex(x[..., 0], x[..., 1])


def _real_view(out: Any) -> Any:
    # Stacked, not view_as_real: view_as_real's backward needs a cotangent laid out as complex
    # numbers, and the properties pass strided and expanded ones.
    if isinstance(out, torch.Tensor) and out.is_complex():
        return torch.stack((out.real, out.imag), dim=-1)
    return out


def calling_with_complex_views(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` called with the arguments a :class:`ComplexArgs` marker names turned back into
    complex tensors (the marker removed), its complex outputs returned as real views."""
    if getattr(fn, "views_complex", False):
        return fn  # already wrapped (dataclasses.replace of a spec runs __post_init__ again)

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        marker = next((a for a in args if isinstance(a, ComplexArgs)), None)
        if marker is not None:
            args = [a for a in args if a is not marker]
            for i in marker.positions:
                args[i] = _as_complex(args[i], i)
        out = fn(*args)
        return tuple(_real_view(o) for o in out) if isinstance(out, tuple) else _real_view(out)

    call.views_complex = True
    return call
