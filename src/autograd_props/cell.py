"""A cell: one property on one (spec, dtype, device), and what its examples measured."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import torch

from autograd_props.messages import described
from autograd_props.reproducer import reproducer_code, shapes_of
from autograd_props.results import Failure, Skip, Verdict, cell_key
from autograd_props.spec import FunctionSpec

__all__ = ["Cell", "add_note", "attach_failure", "failures_of"]

_FAILURE_ATTRIBUTE = "__autograd_props_failure__"


def attach_failure(exc: BaseException, failure: Failure) -> None:
    """Attach ``failure`` to ``exc`` as data, and as a PEP 678 note for people reading tracebacks."""
    setattr(exc, _FAILURE_ATTRIBUTE, failure)
    add_note(exc, f"autograd-props: {failure.check} failed; shapes: {failure.shapes}\nReproduce with:\n{failure.reproducer}")


def add_note(exc: BaseException, note: str) -> None:
    """A PEP 678 note on ``exc``, for people reading tracebacks."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10: pytest and Hypothesis read __notes__ there too
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]


def failures_of(exc: BaseException | None) -> list[Failure]:
    """The failures attached to ``exc`` and, for an exception group (Hypothesis found several
    distinct bugs), to each exception inside it."""
    if exc is None:
        return []
    found = [getattr(exc, _FAILURE_ATTRIBUTE)] if hasattr(exc, _FAILURE_ATTRIBUTE) else []
    for inner in getattr(exc, "exceptions", ()):
        found += failures_of(inner)
    return found


@dataclasses.dataclass
class Cell:
    """One (property, spec, dtype, device), and what its examples measured."""

    spec: FunctionSpec
    dtype: torch.dtype
    device: str
    prop: str
    source: str | None = None  # where the spec was loaded from, for reproducers
    skip: Skip | None = None  # why the cell will not run, when it will not
    shrunk: bool | None = None  # a failure's example was shrunk (False: reported as found, to save time)
    current: dict[str, Any] | None = None  # the example running now (to name the one that hung)
    examples: int = 0
    worst_margin: float | None = None  # None until a value is compared
    first_failure: int | None = None  # the example that first failed, counting from 1
    notes: dict[str, int] = dataclasses.field(default_factory=dict)
    fingerprint: str | None = None  # what decides its verdict (the verdict cache's key), when cached
    cached: str | None = None  # a pass reused from the verdict cache: when it was verified

    def __repr__(self) -> str:  # Hypothesis prints it in every falsifying example
        return f"Cell({self.key})"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis's pretty-printer uses this
        printer.text(repr(self))

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    @property
    def id(self) -> str:
        return f"{self.spec.name}-{self.dtype_name}-{self.device}"

    @property
    def key(self) -> str:
        return cell_key(self.prop, self.spec.name, self.dtype_name, self.device)

    def record(self, verdict: Verdict) -> None:
        """Count one passing example; keep the worst margin seen and the notes."""
        self.examples += 1
        for m in verdict.margins:
            self.worst_margin = max(self.worst_margin or 0.0, float(m))
        for note in verdict.notes:
            self.notes[note] = self.notes.get(note, 0) + 1

    @contextlib.contextmanager
    def reproduce(self, check: Callable[..., Any], kwargs: dict[str, Any]) -> Iterator[None]:
        """A failure inside gets its reproducer attached (see :func:`attach_failure`).

        It also notes which example failed first.  Only passing examples are counted before it,
        and Hypothesis shrinks only after a first failure, so that is the number of examples the
        bug needed to show (shrinking's later examples do not change it).
        """
        self.current = kwargs
        try:
            yield
        except Exception as exc:
            if self.first_failure is None:
                self.first_failure = self.examples + 1
            attach_failure(exc, self.failure(check, kwargs, exc))
            raise

    def failure(self, check: Callable[..., Any], kwargs: dict[str, Any], exc: BaseException) -> Failure:
        """The failure of ``check`` on the example ``kwargs``, with the code that reproduces it."""
        source = self.source or self.spec.module or "<the module that defines the spec>"
        # 1,000 characters: a tolerance failure's numbers, and what they mean, take about 700.
        error = described(exc, 1000)
        hint = getattr(self.spec, "failure_hint", None)  # a discovered spec's reading of the failure
        if hint is not None and hint(self.prop):
            error = f"{hint(self.prop)}. {error}"
        return Failure(
            error=error,
            reproducer=reproducer_code(check, source, self.spec.name, kwargs),
            check=f"{check.__module__}:{check.__name__}",
            shapes=shapes_of(kwargs),
        )


def cell_of(item: Any) -> Cell | None:
    """The cell a gate test (a pytest item parametrized by ``cell``) runs, or None for any other test."""
    callspec = getattr(item, "callspec", None)
    cell = callspec.params.get("cell") if callspec is not None else None
    return cell if isinstance(cell, Cell) else None
