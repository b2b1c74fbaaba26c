"""Properties 'opcheck_*': ``torch.library.opcheck``'s tests of a custom op's registration, on the
drawn examples, one cell each.

opcheck (torch 2.4+) tests what the other properties cannot see from outside: that the schema
matches what the kernel does (``test_schema``: declared mutations and aliasing), that autograd is
registered the way torch requires (``test_autograd_registration``), that the fake implementation
agrees with the kernel under FakeTensorMode (``test_faketensor``), and that the op traces and
runs through AOTAutograd with dynamic shapes (``test_aot_dispatch_dynamic``).  It does not check
gradient values: the gate's other properties do.  Not applicable to anything but a custom op;
skipped, with the version, on a torch without opcheck or without that test.
"""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.harness import with_grad
from autograd_props.keyword_args import split_keywords
from autograd_props.properties.base import Property, draw_args
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


def _checking(test: str):
    def check(spec: FunctionSpec, *, args: tuple[Any, ...]) -> Verdict:
        positional, named = split_keywords(args)
        leaves = with_grad(positional, spec.differentiable(positional))
        try:
            torch.library.opcheck(spec.custom_op, leaves, named, test_utils=(test,))
        except Exception as exc:  # opcheck's OpCheckError, with the failing test's cause
            cause = f" ({type(exc.__cause__).__name__}: {exc.__cause__})" if exc.__cause__ is not None else ""
            raise AssertionError(f"{spec.name}: torch.library.opcheck {test} failed: {exc}{cause}") from exc
        return Verdict(notes=(f"torch.library.opcheck {test} passed",))

    check.__name__ = check.__qualname__ = f"check_opcheck_{test.removeprefix('test_')}"
    return check


def _draw(cell, data) -> dict[str, Any]:
    return {"args": draw_args(cell, data)}


# Module attributes, so a reproducer can import each check by name.
check_opcheck_schema = _checking("test_schema")
check_opcheck_autograd_registration = _checking("test_autograd_registration")
check_opcheck_faketensor = _checking("test_faketensor")
check_opcheck_aot_dispatch_dynamic = _checking("test_aot_dispatch_dynamic")

PROPERTIES = tuple(
    Property(
        name=check.__name__.removeprefix("check_"),
        summary=f"custom ops: torch.library.opcheck's test_{check.__name__.removeprefix('check_opcheck_')} passes on the drawn example",
        check=check,
        draw=_draw,
        # opcheck compiles (aot_dispatch) or re-runs the op several times per example.
        max_examples=10,
        custom_ops_only=True,
    )
    for check in (check_opcheck_schema, check_opcheck_autograd_registration, check_opcheck_faketensor, check_opcheck_aot_dispatch_dynamic)
)
