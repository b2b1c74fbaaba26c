"""User modules whose args strategy Hypothesis's health checks refuse (it filters out most of what
it draws), one as written and one that suppresses the check with its reason, plus a spec that
sets its own example budget."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck

from autograd_props import shapes, tensors
from funcs.square import SPEC as SQUARE


def _large_only(dtype, device):
    # Few drawn shapes have 100 elements or more: most draws are filtered out.
    return tensors(dtype=dtype, device=device, shape=shapes(min_dims=3, max_dims=3)).filter(lambda x: x.numel() >= 100).map(lambda x: (x,))


FILTERS_TOO_MUCH = dataclasses.replace(SQUARE, name="filters_too_much", args=_large_only)
SUPPRESSED = dataclasses.replace(
    FILTERS_TOO_MUCH,
    name="filters_with_reason",
    hypothesis={"suppress_health_check": {HealthCheck.filter_too_much: "only large tensors exercise the tiled path"}},
)
THREE_EXAMPLES = dataclasses.replace(SQUARE, name="three_examples", hypothesis={"max_examples": 3})
