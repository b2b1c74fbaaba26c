"""torch.library.opcheck, the anchor for custom ops: all of its tests on the same fixed float64
inputs gradcheck gets (``gradcheck_anchor.fixed_inputs``), as the torch docs tell a custom op's
author to run it.  Not applicable to a Function that is not a custom op, nor on a torch
without opcheck (before 2.4)."""

from __future__ import annotations

import torch

from autograd_props import FunctionSpec, Keywords
from tests.corpus.gradcheck_anchor import GradcheckOutcome, fixed_inputs


def run_opcheck(spec: FunctionSpec, seed: int = 0) -> GradcheckOutcome | None:
    """opcheck's outcome on ``spec``'s op (any error counts as caught); None where it does not apply."""
    if spec.custom_op is None or not hasattr(torch.library, "opcheck"):
        return None
    args = fixed_inputs(spec, seed)
    keywords = args[-1] if args and isinstance(args[-1], Keywords) else None
    try:
        torch.library.opcheck(spec.custom_op, args[:-1] if keywords is not None else args, dict(keywords or {}))
    except Exception as exc:  # OpCheckError names the failing test
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return GradcheckOutcome(True, f"{type(exc).__name__}: {first_line[:160]}")
    return GradcheckOutcome(False, "")
