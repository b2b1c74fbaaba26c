"""Keyword arguments: a ``Keywords`` mapping drawn as the last element of an args tuple.

Many Functions are called through a wrapper with keyword arguments (``softmax(x, dim=1,
temperature=0.5)``), and ``Function.apply`` itself accepts keywords only for the modern style.
A spec's args strategy draws them as ``(x, Keywords(dim=1, temperature=0.5))``, or with the
strategy ``keywords(dim=dims(2), temperature=st.floats(0.25, 4.0))``; the suite then calls
``function(x, dim=1, temperature=0.5)``, and the reference the same way.  Everything else treats
the ``Keywords`` as one more constant argument: it is never differentiated, perturbed, batched or
moved, and a reproducer prints it as ``Keywords(dim=1, temperature=0.5)``.

A tensor is refused as a keyword value: its gradient would go unchecked.  Pass tensors
positionally, where the suite differentiates them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from hypothesis import strategies as st

__all__ = ["Keywords", "calling_with_keywords", "keywords", "split_keywords"]


class Keywords(Mapping):
    """Keyword arguments for the Function and its reference (the last element of an args tuple)."""

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            if holds(value, torch.Tensor):
                raise TypeError(
                    f"Keywords({name}=...) holds a tensor, whose gradient the gate would not check; "
                    "pass tensors positionally (a wrapper lambda can turn them into keywords)"
                )
        object.__setattr__(self, "_values", dict(values))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Keywords is immutable: draw a new one")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Keywords) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        from autograd_props.reproducer import literal  # rebuilds floats and dtypes exactly

        return "Keywords(" + ", ".join(f"{name}={literal(value)}" for name, value in self._values.items()) + ")"


def holds(value: Any, kind: type) -> bool:
    """Whether ``value``, or anything nested in its tuples, lists and mappings, is a ``kind``."""
    if isinstance(value, kind):
        return True
    if isinstance(value, (tuple, list)):
        return any(holds(v, kind) for v in value)
    if isinstance(value, Mapping):
        return any(holds(v, kind) for v in value.values())
    return False


def keywords(**strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[Keywords]:
    """A strategy of :class:`Keywords`, one strategy per keyword (each shrinks on its own)."""
    return st.fixed_dictionaries(strategies).map(lambda values: Keywords(**values))


def split_keywords(args: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``args`` as a call takes them: the positional ones, and a trailing :class:`Keywords`
    as a dict (empty when there is none)."""
    if args and isinstance(args[-1], Keywords):
        return tuple(args[:-1]), dict(args[-1]._values)
    return tuple(args), {}


def calling_with_keywords(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` called with a trailing :class:`Keywords` argument unpacked into keyword arguments;
    any other call passes through unchanged."""
    if getattr(fn, "unpacks_keywords", False):
        return fn  # already wrapped (dataclasses.replace of a spec runs __post_init__ again)

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        positional, named = split_keywords(args)
        return fn(*positional, **named)

    call.unpacks_keywords = True
    # No __self__ copied onto it: torch.compile (2.13) takes a function carrying one for a bound
    # method and gave an in-place Function wrong gradients.  The class is found via __wrapped__.
    return call
