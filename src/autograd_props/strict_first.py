"""Judge an example first with zero magnitudes; size it only when that judgement is not clean.

The magnitudes (``oracles.jacobian_magnitudes``: the dense Jacobian, or propagation past the dense
limit) are most of a check's cost, and they only ever widen a tolerance:

- the native oracle allows ``native_allowance(native_error, m) + atol + rtol |truth| + ULPS eps m``,
  each term nondecreasing in ``m`` and in the coupling, with ``native_error`` alone at ``m = 0``;
- the finite differences' floor ``2 step_error + ULPS eps (sum s |v| + unit)`` and their kink
  threshold grow with the sensitivities ``s``, so a slope judged smooth and within tolerance at
  ``s = 0`` is smooth and within tolerance at any ``s``.

So an example that passes with every magnitude taken as 0 passes with them, and its margins are
upper bounds of the sized ones.  A kink found by the thresholds that leave the floor out, or
non-finite samples, are what the sized run would report too: neither depends on the sensitivities.
Anything else, a comparison over 1, a kink only the floor's threshold finds, a second look at the
rounding, or any exception at all, raises :class:`NeedsMagnitudes` or is caught here, and the check
runs again as it always has, on the drawn tensors themselves: a failure is the same failure, word
for word.  The strict pass runs on copies of the drawn tensors (storage, offset, strides and
aliasing kept), so a Function that mutates its input cannot change what the second run sees.

On by default; ``AUTOGRAD_PROPS_STRICT_FIRST=0`` turns it off (its validation: docs/large-sizes.md).
What it changes besides the time is the margins: a passing example reports its margin against
the strictest tolerance, and Hypothesis's ``target`` phase steers by them.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

from autograd_props.results import Verdict

__all__ = ["NeedsMagnitudes", "enabled", "judged", "judging_strictly", "strict"]

ENVIRONMENT_VARIABLE = "AUTOGRAD_PROPS_STRICT_FIRST"

_STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar("autograd_props_strict_first", default=False)


class NeedsMagnitudes(Exception):
    """A strict judgement was not clean: the example must be judged again with its magnitudes."""


def enabled() -> bool:
    """Whether properties judge strictly first: unless the environment variable is "0"."""
    value = os.environ.get(ENVIRONMENT_VARIABLE, "1")
    if value not in ("0", "1"):
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={value!r}: expected 0 (off) or 1 (on, the default)")
    return value == "1"


def strict() -> bool:
    """Whether the current check runs with zero magnitudes (oracles raise instead of failing)."""
    return _STRICT.get()


@contextlib.contextmanager
def judging_strictly() -> Iterator[None]:
    token = _STRICT.set(True)
    try:
        yield
    finally:
        _STRICT.reset(token)


def judged(check: Callable[..., Any], spec: Any, kwargs: dict[str, Any]) -> Verdict | None:
    """The verdict of ``check(spec, **kwargs)`` judged strictly on copies, or None when the
    example must be judged as usual (not clean, or anything raised)."""
    copies = copy_example(kwargs)
    with judging_strictly():
        try:
            return Verdict.of(check(spec, **copies))
        except (Exception, pytest.skip.Exception, pytest.fail.Exception):  # noqa: BLE001 -- the usual run says what it was
            return None


def copy_example(value: Any) -> Any:
    """``value`` with every tensor in it copied: each storage once, so tensors that share one
    (views, an expanded argument, two arguments of one base) still share the copy, with their
    offsets and strides."""
    storages: dict[tuple[int, str], torch.UntypedStorage] = {}

    def copy(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return _copy_tensor(x, storages)
        if isinstance(x, tuple) and not hasattr(x, "_fields"):
            return tuple(copy(v) for v in x)
        if isinstance(x, list):
            return [copy(v) for v in x]
        if isinstance(x, dict):
            return {k: copy(v) for k, v in x.items()}
        return x

    return copy(value)


def _copy_tensor(x: torch.Tensor, storages: dict[tuple[int, str], torch.UntypedStorage]) -> torch.Tensor:
    if x.layout != torch.strided or x.device.type == "meta" or type(x) is not torch.Tensor:
        return x.detach().clone().requires_grad_(x.requires_grad)  # no storage of its own to share
    storage = x.untyped_storage()
    key = (storage.data_ptr(), str(x.device))
    if key not in storages:
        storages[key] = storage.clone()
    copied = torch.empty(0, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        copied.set_(storages[key], x.storage_offset(), x.size(), x.stride())
    return copied.requires_grad_(x.requires_grad)
