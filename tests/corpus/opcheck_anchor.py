"""torch.library.opcheck, the anchor for custom ops: all of its tests on the same fixed float64
inputs gradcheck gets (``gradcheck_anchor.fixed_inputs``), as the torch docs tell a custom op's
author to run it.  Not applicable to a Function that is not a custom op, nor on a torch
without opcheck (before 2.4)."""

from __future__ import annotations

import torch

from autograd_props import FunctionSpec
from autograd_props.keyword_args import split_keywords
from tests.corpus.gradcheck_anchor import GradcheckOutcome, fixed_inputs


def run_opcheck(spec: FunctionSpec, seed: int = 0) -> GradcheckOutcome | None:
    """opcheck's outcome on ``spec``'s op (any error counts as caught); None where it does not apply."""
    if spec.custom_op is None or not hasattr(torch.library, "opcheck"):
        return None
    args = fixed_inputs(spec, seed)
    positional, named = split_keywords(args)
    try:
        torch.library.opcheck(spec.custom_op, positional, named)
    except Exception as exc:  # OpCheckError names the failing test
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return GradcheckOutcome(True, f"{type(exc).__name__}: {first_line[:160]}")
    return GradcheckOutcome(False, "")
