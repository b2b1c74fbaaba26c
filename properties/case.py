"""What one parametrized property test runs on, and the helpers every property body uses."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import pytest
import torch
from hypothesis import strategies as st

from funcs.spec import PROPERTIES, FunctionSpec
from properties.compat import skip_if_reference_lacks_kernel
from properties.harness import as_outputs, differentiable_indices
from properties.report import reproducer
from properties.strategies import cotangents_like, elements, tensors

__all__ = ["Case", "autograd_property", "draw_args", "draw_cotangents", "draw_directions"]


@dataclasses.dataclass
class Case:
    """One (spec, dtype, device) cell of a property, plus what its examples measured."""

    spec: FunctionSpec
    dtype: torch.dtype
    device: str
    prop: str
    source: str  # where the spec came from, for reproducers
    examples: int = 0
    worst_margin: float = 0.0
    first_failure: int | None = None  # the example that first failed, counting from 1
    events: dict[str, int] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:  # Hypothesis prints it in every falsifying example
        return f"Case({self.prop}: {self.id})"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis's pretty-printer uses this
        printer.text(repr(self))

    @property
    def id(self) -> str:
        return f"{self.spec.name}-{str(self.dtype).removeprefix('torch.')}-{self.device}"

    def record(self, *margins: float) -> None:
        """Count one passing example and keep the worst margin (error / tolerance) seen."""
        self.examples += 1
        for m in margins:
            self.worst_margin = max(self.worst_margin, float(m))

    def note(self, event: str) -> None:
        self.events[event] = self.events.get(event, 0) + 1

    @contextlib.contextmanager
    def reproduce(self, check: str, **kwargs: Any):
        """Context manager: a failure inside gets a pasteable reproducer as a PEP 678 note.

        It also notes which example failed first.  Only passing examples are counted before it,
        and Hypothesis shrinks only after a first failure, so that is the number of examples the
        bug needed to show (shrinking's later examples do not change it).
        """
        try:
            with reproducer(self, check, kwargs):
                yield
        except Exception:
            if self.first_failure is None:
                self.first_failure = self.examples + 1
            raise


def autograd_property(name: str, *, dtypes: str = "spec"):
    """Mark a test as the property ``name``; conftest parametrizes it over specs x dtypes x devices.

    ``dtypes="spec"`` runs every dtype the spec supports; ``"float64"`` only float64;
    ``"full-precision: <reason>"`` float64 and float32, with float16/bfloat16 reported as not
    applicable for that reason.
    """
    if name not in PROPERTIES:
        raise ValueError(f"autograd_property: unknown property {name!r}; add it to funcs.spec.PROPERTIES")
    if dtypes not in ("spec", "float64") and not dtypes.startswith("full-precision:"):
        raise ValueError(f"autograd_property: dtypes={dtypes!r} must be 'spec', 'float64' or 'full-precision: <reason>'")
    return pytest.mark.autograd_property(name=name, dtypes=dtypes)


def draw_args(case: Case, data: st.DataObject) -> tuple[Any, ...]:
    """Draw the spec's positional arguments for the case's dtype and device."""
    args = data.draw(case.spec.args(case.dtype, torch.device(case.device)), label="args")
    skip_if_reference_lacks_kernel(case.spec.reference, args, what=f"{case.spec.name}'s reference", device=case.device)
    if not isinstance(args, tuple):
        raise TypeError(f"spec {case.spec.name!r}: args strategy drew a {type(args).__name__}, expected a tuple")
    return args


def draw_cotangents(case: Case, data: st.DataObject, args: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
    """Cotangents shaped like the reference's outputs (so a wrong custom shape cannot hide)."""
    with torch.no_grad():
        outputs = as_outputs(case.spec.reference(*args), what=f"{case.spec.name} reference")
    return data.draw(cotangents_like(outputs), label="cotangents")


def draw_directions(data: st.DataObject, args: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
    """float64 directions in [-1, 1] for every differentiable argument (finite differences)."""
    unit = st.floats(-1.0, 1.0)
    return data.draw(
        st.tuples(
            *(
                tensors(dtype=torch.float64, device=args[i].device, shape=tuple(args[i].shape), elements_strategy=unit)
                for i in differentiable_indices(args)
            )
        ),
        label="directions",
    )


def draw_like(data: st.DataObject, tensors_like: tuple[torch.Tensor, ...], *, label: str, max_abs: float = 1.0):
    """Tensors shaped, typed and placed like ``tensors_like`` with values in [-max_abs, max_abs]."""
    return data.draw(
        st.tuples(
            *(
                tensors(dtype=t.dtype, device=t.device, shape=tuple(t.shape), elements_strategy=elements(t.dtype, max_abs=max_abs))
                for t in tensors_like
            )
        ),
        label=label,
    )


def cotangent_property(name: str, check, *, max_examples: int | None = None):
    """The test for a property whose check takes ``(spec, *, args, cotangents)``.

    It draws the spec's arguments and cotangents, runs ``check`` under a reproducer, and records
    the margins it returns (or, for a check that returns a word, notes it as an event).
    """
    from hypothesis import given, settings

    @autograd_property(name)
    @given(data=st.data())
    def test(case, data):
        args = draw_args(case, data)
        cotangents = draw_cotangents(case, data, args)
        with case.reproduce(f"{check.__module__}:{check.__name__}", args=args, cotangents=cotangents):
            result = check(case.spec, args=args, cotangents=cotangents)
        if isinstance(result, str):
            case.note(result)
            result = []
        case.record(*result)

    if max_examples is not None:
        test = settings(max_examples=max_examples)(test)
    test.__name__ = f"test_{name}"
    return test
