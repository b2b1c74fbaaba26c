"""Mistakes in a spec found on its first example, told apart from failures of the Function: a
reference whose signature does not take the drawn arguments, an ``args`` strategy that draws
something other than a tuple of arguments.  The run exits 4 (a usage error) naming the field,
and the spec's other cells fail at once with the same message instead of repeating it."""

from __future__ import annotations

import contextlib
import inspect
import traceback
from collections.abc import Iterator
from typing import Any

from hypothesis.errors import HypothesisException, InvalidArgument

from autograd_props.keyword_args import split_keywords

__all__ = ["SpecMistake", "args_strategy_of", "check_args_drawn", "check_reference_takes"]


class SpecMistake(BaseException):
    """A spec field that cannot work with what the spec draws (``field`` names it).

    Not an Exception: Hypothesis lets it through at once, where it would shrink a failure (a
    mistake in the spec is the same on every example); the cell's test reports it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.cell = ""  # the cell that found it


@contextlib.contextmanager
def args_strategy_of(spec_name: str) -> Iterator[None]:
    """Building and drawing a spec's ``args``: an error raised there is the strategy's (a wrong
    keyword, a shape mismatch in a composite), the same on every example, not the Function's."""
    try:
        yield
    except InvalidArgument as exc:  # a strategy given bad arguments
        raise SpecMistake("args", f"spec {spec_name!r}: field 'args': {type(exc).__name__}: {exc}{_where(exc)}") from None
    except HypothesisException:  # Hypothesis's own control flow (assume(), a filtered draw)
        raise
    except Exception as exc:
        hint = ""
        if isinstance(exc, (IndexError, ZeroDivisionError)):  # most often a shape() or a size() of 0
            hint = ("; tensors() draws 0-d and zero-size tensors too: tensors(..., shape=shapes(min_dims=1, min_side=1)) "
                    "where the strategy needs a dim or an element")
        raise SpecMistake(
            "args", f"spec {spec_name!r}: field 'args': drawing the arguments raised {type(exc).__name__}: {exc}{_where(exc)}{hint}"
        ) from None


def _where(exc: BaseException) -> str:
    """Where in the user's code it was raised (the innermost frame outside Hypothesis and this package)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/hypothesis/" not in f.filename and "/autograd_props/" not in f.filename]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def check_args_drawn(spec_name: str, args: Any) -> None:
    if not isinstance(args, tuple):
        hint = " (wrap it: .map(lambda x: (x,)))" if not isinstance(args, (list, dict)) else ""
        raise SpecMistake(
            "args", f"spec {spec_name!r}: field 'args': its strategy drew a {type(args).__name__}, not a tuple of arguments{hint}"
        )


_SIGNATURES: dict[int, tuple[Any, inspect.Signature | None]] = {}


def _signature(fn: Any) -> inspect.Signature | None:
    cached = _SIGNATURES.get(id(fn))
    if cached is not None and cached[0] is fn:
        return cached[1]
    try:
        signature = inspect.signature(fn)  # follows __wrapped__ to the user's own function
    except (TypeError, ValueError):  # a builtin or C function without one: nothing to check
        signature = None
    _SIGNATURES[id(fn)] = (fn, signature)
    return signature


def check_reference_takes(spec_name: str, reference: Any, args: tuple[Any, ...]) -> None:
    """SpecMistake when ``reference``'s signature cannot bind ``args`` (as the Function is called)."""
    signature = _signature(reference)
    if signature is None:
        return
    positional, named = split_keywords(args)
    try:
        signature.bind(*positional, **named)
    except TypeError as exc:
        raise SpecMistake(
            "reference",
            f"spec {spec_name!r}: field 'reference': {getattr(reference, '__qualname__', reference)}{signature} cannot take the "
            f"{len(positional)} argument(s){' and keywords ' + ', '.join(named) if named else ''} the args strategy draws ({exc}); "
            "the reference is called as the Function is",
        ) from None
