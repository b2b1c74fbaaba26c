"""What a property is (its check, how it draws, which dtypes apply, its example budget), and the
draws most properties share."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import reject
from hypothesis import strategies as st

from autograd_props import compat, strict_first
from autograd_props.cell import Cell
from autograd_props.complex_views import as_real_views
from autograd_props.harness import as_outputs
from autograd_props.oracles import BeyondOracle
from autograd_props.reference_domain import note_outside, outside_domain
from autograd_props.results import Skip, Verdict
from autograd_props.spec import FunctionSpec
from autograd_props.spec_mistakes import args_strategy_of, check_args_drawn, check_reference_takes
from autograd_props.strategies import cotangents_like, elements, tensors

__all__ = ["Property", "draw_args", "draw_args_and_cotangents", "draw_cotangents", "draw_directions", "draw_like"]

HALF_DTYPES = (torch.float16, torch.bfloat16)


@dataclasses.dataclass(frozen=True)
class Property:
    """One property of the registry.

    ``check(spec, **drawn)`` raises AssertionError on a finding and returns margins, a note or a
    :class:`~autograd_props.results.Verdict`; ``draw(cell, data)`` draws its keyword arguments.
    ``dtypes``: ``"spec"`` (every dtype of the spec), ``"float64"`` (float64 only) or
    ``"full-precision: <reason>"`` (float64 and float32; 16-bit dtypes not applicable for the
    reason).  ``without_reference``: why its float64 cell is not applicable to a spec without a
    reference.  ``max_examples`` caps the profile's example budget.  ``finite_differences``: the
    property compares backward with the forward's own slope, which a declared surrogate gradient
    is by design not.  ``custom_ops_only``: not applicable to anything but a custom op.
    """

    name: str
    summary: str
    check: Callable[..., Any]
    draw: Callable[[Cell, st.DataObject], dict[str, Any]]
    dtypes: str = "spec"
    max_examples: int | None = None
    finite_differences: bool = False
    # Why the float64 cell has nothing to compare without a native reference (the Function's own
    # float64 result is the truth there); empty: the cell still checks something.
    without_reference: str = ""
    # Checks only a torch.library custom op's registration (opcheck's tests).
    custom_ops_only: bool = False
    # Its verdicts depend on magnitudes only through tolerances they widen, so an example may be
    # judged first without them (strict_first.py).
    strict_first: bool = False

    def __post_init__(self) -> None:
        if self.dtypes not in ("spec", "float64") and not self.dtypes.startswith("full-precision:"):
            raise ValueError(f"property {self.name!r}: dtypes={self.dtypes!r} must be 'spec', 'float64' or 'full-precision: <reason>'")

    def skip(self, spec: FunctionSpec, dtype: torch.dtype) -> Skip | None:
        """Why this property does not run for ``spec`` at ``dtype``, or None when it does."""
        if self.name in spec.opt_outs:
            return Skip("opted-out", spec.opt_outs[self.name])
        if self.finite_differences and spec.surrogate_gradient:
            return Skip("opted-out", f"surrogate gradient: {spec.surrogate_gradient}")
        if self.custom_ops_only and spec.custom_op is None:
            return Skip("not-applicable", "not a torch.library custom op")
        unsupported = compat.unsupported_without_importing(self.name)  # compile's: when its cell runs (runner.py)
        if unsupported:
            return Skip("skipped", unsupported)
        if self.dtypes.startswith("full-precision:") and dtype in HALF_DTYPES:
            return Skip("not-applicable", self.dtypes.partition(":")[2].strip())
        if not spec.has_reference and self.without_reference and dtype == spec.full_precision_dtype:
            return Skip("not-applicable", f"no reference: {self.without_reference}")
        if dtype not in spec.dtypes:
            return Skip("not-applicable", f"{self.name} runs in float64, which {spec.name} does not support")
        return None

    def dtypes_for(self, spec: FunctionSpec) -> tuple[torch.dtype, ...]:
        """The dtypes this property has a cell for: float64 alone (complex128 for a complex
        spec), or every dtype of the spec."""
        return (spec.full_precision_dtype,) if self.dtypes == "float64" else tuple(spec.dtypes)

    def run(self, cell: Cell, data: st.DataObject) -> None:
        """One example: draw, check under a reproducer, record what it measured."""
        kwargs = self.draw(cell, data)
        outside = None
        with cell.reproduce(self.check, kwargs), compat.skip_where_torch_lacks_kernel(what=cell.spec.name, device=cell.device):
            try:
                verdict = strict_first.judged(self.check, cell.spec, kwargs) if self.strict_first and strict_first.enabled() else None
                if verdict is None:
                    verdict = Verdict.of(self.check(cell.spec, **kwargs))
            except BeyondOracle as exc:  # a limit of the suite, said as such, not a finding
                pytest.skip(f"{self.name} cannot judge this example: {exc}")
            except Exception as exc:
                outside = outside_domain(cell.spec, kwargs.get("args", ()), exc, raised_by="function")
                if outside is None:
                    raise
        if outside is not None:  # rejected outside cell.reproduce: a rejection is not a failure
            note_outside(cell, outside)
            reject()
        cell.record(verdict)


def draw_args(cell: Cell, data: st.DataObject) -> tuple[Any, ...]:
    """Draw the spec's positional arguments for the cell's dtype and device."""
    spec = cell.spec
    with args_strategy_of(spec.name):
        args = data.draw(spec.args(cell.dtype, torch.device(cell.device)), label="args")
    check_args_drawn(spec.name, args)
    if spec.has_reference:
        check_reference_takes(spec.name, spec.reference, args)
    # Complex tensors are checked through their real views (complex_views.py).
    args = as_real_views(args)
    if spec.has_reference:
        compat.skip_if_reference_lacks_kernel(spec.reference, args, what=f"{spec.name}'s reference", device=cell.device)
    return args


def draw_cotangents(cell: Cell, data: st.DataObject, args: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
    """Cotangents shaped like the reference's outputs (so a wrong custom shape cannot hide)."""
    try:
        with torch.no_grad():
            outputs = as_outputs(cell.spec.reference(*args), what=f"{cell.spec.name} reference")
    except Exception as exc:
        outside = outside_domain(cell.spec, args, exc, raised_by="reference")
        if outside is None:
            raise
        note_outside(cell, outside)
        reject()
    return data.draw(cotangents_like(outputs), label="cotangents")


def draw_args_and_cotangents(cell: Cell, data: st.DataObject) -> dict[str, Any]:
    args = draw_args(cell, data)
    return {"args": args, "cotangents": draw_cotangents(cell, data, args)}


def draw_directions(spec: FunctionSpec, data: st.DataObject, args: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
    """float64 directions in [-1, 1] for every differentiable argument (finite differences)."""
    unit = st.floats(-1.0, 1.0)
    return data.draw(
        st.tuples(
            *(
                tensors(dtype=torch.float64, device=args[i].device, shape=tuple(args[i].shape), elements_strategy=unit)
                for i in spec.differentiable(args)
            )
        ),
        label="directions",
    )


def draw_like(data: st.DataObject, like: tuple[torch.Tensor, ...], *, label: str, max_abs: float = 1.0):
    """Tensors shaped, typed and placed like ``like`` with values in [-max_abs, max_abs]."""
    return data.draw(
        st.tuples(
            *(
                tensors(dtype=t.dtype, device=t.device, shape=tuple(t.shape), elements_strategy=elements(t.dtype, max_abs=max_abs))
                for t in like
            )
        ),
        label=label,
    )
