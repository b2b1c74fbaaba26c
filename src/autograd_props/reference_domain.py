"""An example on which the reference raises too: outside the op's domain, not the Function's failure.

A drawn input can lie where the math is undefined (a singular matrix for an inverse, an SVD that
does not converge).  The native reference raises there, and a Function built on the same op
raises the same error: that is the op's domain, so the example is not judged (Hypothesis draws
another) and the cell notes it.  A Function that raises where the reference does not, or raises
another kind of error, is still a failure; so is any verdict of the suite's own (AssertionError).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from autograd_props.cell import Cell
from autograd_props.spec import FunctionSpec


def _fresh(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arguments as new leaves, so the call neither records on nor modifies the drawn ones."""
    return tuple(a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args)


def _raises_like(fn: Callable[..., Any], args: tuple[Any, ...], exc: BaseException) -> BaseException | None:
    """What ``fn(*args)`` raises when it is an error of ``exc``'s kind; None otherwise."""
    try:
        with torch.no_grad():
            fn(*_fresh(args))
    except type(exc) as same:
        return same
    except Exception:  # noqa: BLE001 -- another kind of error says nothing about exc
        return None
    return None


def outside_domain(spec: FunctionSpec, args: tuple[Any, ...], exc: BaseException, *, raised_by: str) -> str | None:
    """The note to record when ``exc``, raised by the Function (``raised_by="function"``) or by the
    reference (``"reference"``) on ``args``, is raised by the other one too; None when it is a finding."""
    if not spec.has_reference or isinstance(exc, AssertionError):
        return None
    other = spec.reference if raised_by == "function" else spec.function
    if _raises_like(other, args, exc) is None:
        return None
    return (
        f"not judged where the Function raises {type(exc).__name__} and so does the reference (the op's domain, such as "
        "a singular matrix: not the Function's failure)"
    )


def note_outside(cell: Cell, note: str) -> None:
    cell.notes[note] = cell.notes.get(note, 0) + 1
