"""Results as data: what a cell's run found, from the test to the report and to ``check()``.

A cell is one (property, spec, dtype, device).  Its key, ``property[spec-dtype-device]``, is what
expectation files and the report use: it does not depend on where a test file lives.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["NOT_CLAIMED", "OUTCOMES", "RAN", "CellResult", "Failure", "Skip", "Verdict", "cell_key"]

# passed / failed: the property ran.  xfailed / xpassed: it ran under an expectation file.
# opted-out: the spec declined it with a reason.  not-applicable: the property does not apply
# to this dtype.  skipped: it could not run here (a device, the installed torch).
OUTCOMES = ("failed", "xpassed", "xfailed", "passed", "opted-out", "not-applicable", "skipped")
RAN = ("passed", "failed", "xfailed", "xpassed")
# How a note begins when the Function disclaims what the property checks, and using it raised as
# it must: a pass, which the report shows as "not claimed".
NOT_CLAIMED = "not claimed"


def cell_key(prop: str, spec: str, dtype: str, device: str) -> str:
    """``vjp_native[softplus-float64-cpu]``: a cell's name in reports and expectation files."""
    return f"{prop}[{spec}-{dtype}-{device}]"


@dataclasses.dataclass(frozen=True)
class Skip:
    """Why a cell does not run: ``outcome`` is opted-out, not-applicable or skipped."""

    outcome: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.outcome}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What a property's check measured on one example.

    ``margins``: each compared quantity's worst error / tolerance (above 1 fails; a check that
    compares no values returns none, which is "not measured", not 0).  ``notes``: what the
    example showed that a reader should know (a transform that raised as it must, a point left
    to another oracle).
    """

    margins: tuple[float, ...] = ()
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, value: Verdict | list | tuple | str | None) -> Verdict:
        """A check's return value as a Verdict: margins, a note, or a Verdict itself."""
        if isinstance(value, Verdict):
            return value
        if value is None:
            return cls()
        if isinstance(value, str):
            return cls(notes=(value,))
        return cls(margins=tuple(float(m) for m in value))


@dataclasses.dataclass(frozen=True)
class Failure:
    """One distinct failure of a cell: the error line and the code that reproduces it."""

    error: str
    reproducer: str  # pasteable Python
    check: str  # module:function that failed
    shapes: str  # the example's shapes, for a reader scanning a report


@dataclasses.dataclass
class CellResult:
    """One cell's outcome, as the report and ``check()`` give it."""

    spec: str
    prop: str
    dtype: str
    device: str
    outcome: str  # one of OUTCOMES
    reason: str = ""
    examples: int = 0
    worst_margin: float | None = None  # None: no value was compared
    first_failure: int | None = None  # examples up to and including the first failing one
    test_id: str = ""  # pytest's node id, where pytest ran it
    failures: list[Failure] = dataclasses.field(default_factory=list)
    output: str = ""  # pytest's full failure text
    notes: dict[str, int] = dataclasses.field(default_factory=dict)
    shrunk: bool | None = None  # for a failure: whether its example was shrunk
    cached: str | None = None  # a pass reused from the verdict cache: when it was verified
    duration: float | None = None  # seconds the cell took in this run
    spec_mistake: str | None = None  # the spec field at fault, where the failure is the spec's, not the Function's

    @property
    def key(self) -> str:
        return cell_key(self.prop, self.spec, self.dtype, self.device)

    @property
    def error(self) -> str:
        return self.failures[0].error if self.failures else ""

    @property
    def failure_signature(self) -> tuple[str, tuple[str, ...]]:
        """What makes two failing cells show the same failure: the spec and every error message."""
        return (self.spec, tuple(f.error for f in self.failures))

    @property
    def reproducer(self) -> str:
        return self.failures[0].reproducer if self.failures else ""

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["key"] = self.key
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellResult:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["failures"] = [Failure(**f) for f in values.get("failures", [])]
        return cls(**values)
