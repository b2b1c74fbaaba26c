"""A stand-in for the ``ctx`` a Function's forward receives, so the forward can run outside the
Function (with autograd recording) and accept every call a forward makes on its ctx."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["StandInCtx"]


class StandInCtx:
    """Accepts ``save_for_backward``, ``save_for_forward``, ``mark_dirty``,
    ``mark_non_differentiable``, ``set_materialize_grads``, reads ``needs_input_grad`` and
    ``saved_tensors``, and holds any attribute the forward sets."""

    def __init__(self, inputs: Sequence[Any]) -> None:
        self.needs_input_grad = tuple(isinstance(a, torch.Tensor) and a.requires_grad for a in inputs)
        self.saved_tensors: tuple[Any, ...] = ()
        self.dirty: tuple[torch.Tensor, ...] = ()
        self.non_differentiable: tuple[torch.Tensor, ...] = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors

    def save_for_forward(self, *tensors: Any) -> None:
        self.saved_for_forward = tensors

    def mark_dirty(self, *tensors: torch.Tensor) -> None:
        self.dirty = tensors

    def mark_non_differentiable(self, *tensors: torch.Tensor) -> None:
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value

    @property
    def saved_variables(self) -> tuple[Any, ...]:  # the pre-1.0 spelling some code still uses
        return self.saved_tensors

    def detach_non_differentiable(self, out: Any) -> Any:
        """``out`` with the outputs the forward marked non-differentiable detached, as the
        Function gives them (no gradient flows through them)."""
        if not self.non_differentiable:
            return out
        marked = {id(t) for t in self.non_differentiable}
        outs = out if isinstance(out, tuple) else (out,)
        fixed = tuple(o.detach() if isinstance(o, torch.Tensor) and id(o) in marked else o for o in outs)
        return fixed if isinstance(out, tuple) else fixed[0]
