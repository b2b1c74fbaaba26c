"""Which sizes the strategies draw: the default small ones, or large ones (up to a million
elements, with sides around the declared chunk sizes).

The gate sets the sizes for each cell: large for a spec declaring ``sizes="large"``, or for every
spec under the ``autograd-props-large`` profile.  ``shapes()``, ``tensors()``, ``indices()`` and
``masks()`` read them when they are called, which for a spec's args strategy is while the gate
draws an example (``spec.args(dtype, device)`` is called then, and a ``st.composite`` calls them
as it draws).  A strategy built once at import time keeps the sizes of that moment: small.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator

__all__ = ["Sizes", "current_sizes", "drawing_sizes"]


@dataclasses.dataclass(frozen=True)
class Sizes:
    large: bool = False
    chunk_sizes: tuple[int, ...] = ()  # the spec's declared chunk or block sizes


_CURRENT: contextvars.ContextVar[Sizes] = contextvars.ContextVar("autograd_props_sizes", default=Sizes())


def current_sizes() -> Sizes:
    return _CURRENT.get()


@contextlib.contextmanager
def drawing_sizes(sizes: Sizes) -> Iterator[None]:
    token = _CURRENT.set(sizes)
    try:
        yield
    finally:
        _CURRENT.reset(token)
