"""Compute dtype for the built-in Functions: float16/bfloat16 work internally in float32.

Native CPU kernels (softmax, layer_norm, silu, ...) compute in float32
for the half-precision dtypes and round once at the end; the built-in Functions do the same so
their error is no worse than native's.  ``upcast`` is a plain differentiable cast, so a backward
written with it stays correct under double backward, and it is a no-op for float32/float64.
``linear`` widens further, to float64 (``funcs.linear.widen``): its sums overflow float32.
"""

from __future__ import annotations

import torch

LOW_PRECISION: frozenset[torch.dtype] = frozenset({torch.float16, torch.bfloat16})


def upcast(t: torch.Tensor) -> torch.Tensor:
    """``t`` in the dtype to compute in: float32 for float16/bfloat16, otherwise unchanged."""
    return t.float() if t.dtype in LOW_PRECISION else t
