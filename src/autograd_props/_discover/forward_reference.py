"""The reference for free: a Function's forward run outside the Function, under native autograd.

Inside ``Function.apply`` the forward runs with autograd off and the Function's backward gives
the gradient; run outside it (a classic ``forward(ctx, ...)`` with a :class:`StandInCtx`, a
modern ``forward(...)`` as it is, a custom op's Python body), autograd records the forward's own
ops, and differentiating them gives the derivative of the forward as written.

That works only where autograd can follow the forward.  :func:`judge` says where it cannot, and
why: the forward raises when its inputs require grad (NumPy, an extension), or its outputs do not
depend on its inputs through autograd (``.item()``, ``.tolist()``, ``.numpy()``, ``.detach()``,
``.data``, ``torch.no_grad``, an integer cast), or it gives other values outside the Function
than inside (it reads its ctx or the grad mode).  The spec then has ``reference=None``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from autograd_props._discover.stand_in_ctx import StandInCtx
from autograd_props.spec import defines_setup_context

__all__ = ["forward_reference", "judge"]


def forward_reference(subject: Any) -> Callable[..., Any]:
    """The forward of ``subject`` (a Function class or a ``torch.library.custom_op``) as a plain
    differentiable function of the same arguments."""
    if isinstance(subject, type) and issubclass(subject, torch.autograd.Function):
        cls = subject
        if defines_setup_context(cls):

            def reference(*args: Any) -> Any:
                out = cls.forward(*args)
                ctx = StandInCtx(args)
                cls.setup_context(ctx, args, out)
                return ctx.detach_non_differentiable(out)

        else:

            def reference(*args: Any) -> Any:
                ctx = StandInCtx(args)
                return ctx.detach_non_differentiable(cls.forward(ctx, *args))

        reference.__name__ = f"{cls.__name__}_forward"
        reference.__qualname__ = reference.__name__
        return reference
    init = getattr(subject, "_init_fn", None)
    if init is None:
        raise TypeError(f"forward_reference: {subject!r} is neither a torch.autograd.Function subclass nor a custom op")
    return functools.wraps(init)(lambda *args: init(*args))


# Calls after which autograd no longer follows a value, by the name torch gives them.
_LEAVING = {
    "item": ".item()",
    "tolist": ".tolist()",
    "numpy": "NumPy (.numpy())",
    "detach": ".detach()",
    "__get__": ".data",
}
_INTEGER = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)


class _Recorder(TorchFunctionMode):
    """Notes the calls of a forward that leave autograd: those in _LEAVING, ops run with grad
    disabled (``torch.no_grad``), and casts of floating tensors to integers."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def _note(self, what: str) -> None:
        if what not in self.seen:
            self.seen.append(what)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in _LEAVING:
            if name != "__get__" or "data" in repr(func):
                self._note(_LEAVING[name])
        elif not torch.is_grad_enabled() and name != "_set_grad_enabled":
            self._note("torch.no_grad")
        out = func(*args, **(kwargs or {}))
        if (
            isinstance(out, torch.Tensor)
            and out.dtype in _INTEGER
            and any(isinstance(a, torch.Tensor) and a.is_floating_point() for a in args)
            and name not in ("argmax", "argmin", "argsort", "nonzero", "eq", "ne", "lt", "le", "gt", "ge", "isnan", "isfinite", "isinf")
        ):
            self._note(f"an integer op ({name})")
        return out


def _float_outputs(out: Any) -> list[torch.Tensor]:
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, torch.Tensor) and o.is_floating_point()]


def _because(recorder: _Recorder, fallback: str) -> str:
    return f"the forward calls {', '.join(recorder.seen)}" if recorder.seen else fallback


def judge(reference: Callable[..., Any], function: Callable[..., Any], examples: Sequence[tuple], differentiable: Sequence[int]) -> str | None:
    """None when ``reference`` can stand for ``function`` on ``examples`` (float64 argument
    tuples the forward accepts): same values, and outputs autograd can differentiate with respect
    to each argument at ``differentiable``.  Otherwise the reason it cannot."""
    for example in examples:
        args = [a.detach().clone().requires_grad_(i in differentiable) if isinstance(a, torch.Tensor) else a for i, a in enumerate(example)]
        recorder = _Recorder()
        try:
            with torch.enable_grad(), recorder:
                out = reference(*args)
        except Exception as exc:
            return _because(recorder, f"the forward outside the Function raised {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        outs = _float_outputs(out)
        if not outs:
            return "the forward gives no floating output outside the Function"
        inputs = [args[i] for i in differentiable]
        if inputs:
            if not any(o.requires_grad for o in outs):
                return _because(recorder, "its outputs do not depend on its inputs through autograd (an extension?)")
            connected = [o for o in outs if o.requires_grad]
            grads = torch.autograd.grad(connected, inputs, [torch.ones_like(o) for o in connected], allow_unused=True)
            if any(g is None for g in grads) and recorder.seen:
                return _because(recorder, "")
        try:
            with torch.no_grad():
                inside = function(*[a.detach() if isinstance(a, torch.Tensor) else a for a in args])
        except Exception as exc:  # the probe accepted these: only a Function that reads its ctx gets here
            return f"the Function refused arguments its forward accepts outside it ({type(exc).__name__})"
        theirs = _float_outputs(inside)
        if len(theirs) != len(outs) or not all(
            a.shape == b.shape and torch.allclose(a.detach(), b, rtol=1e-6, atol=1e-9, equal_nan=True) for a, b in zip(outs, theirs)
        ):
            return "the forward gives other values outside the Function than inside (it reads its ctx or the grad mode)"
    return None
