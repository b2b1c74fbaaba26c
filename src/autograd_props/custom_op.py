"""torch.library custom ops (torch 2.4+) as the Function under test.

Since torch 2.4 the recommended way to give a kernel a gradient is ``torch.library.custom_op``
plus ``register_autograd`` (and ``register_fake``, ``register_vmap``).  A spec may name such an
op as its ``function``: the ``CustomOpDef`` itself, ``torch.ops.ns.name`` or its ``.default``.
What the op claims is read from what is registered, as a Function's claims are read from its
class: a backward (``register_autograd``, double backward unless ``once_differentiable``), a
vmap rule (``register_vmap``), a fake implementation (``register_fake``), and the arguments it
may modify (``mutates_args``).  Custom ops have no forward-mode registration at all.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import torch

__all__ = ["custom_op_of", "describe", "mutated_positions", "patched_registration"]


def _opdefs() -> tuple[type, Any] | None:
    try:
        from torch._library.custom_ops import OPDEFS, CustomOpDef
    except ImportError:  # torch < 2.4: no torch.library.custom_op
        return None
    return CustomOpDef, OPDEFS


def custom_op_of(function: Callable[..., Any]) -> Any | None:
    """The ``CustomOpDef`` behind ``function`` (itself, ``torch.ops.ns.name`` or
    ``torch.ops.ns.name.default``, also through the suite's wrappers), or None for anything else."""
    found = _opdefs()
    if found is None:
        return None
    custom_op_def, opdefs = found
    fn = inspect.unwrap(function)
    if isinstance(fn, custom_op_def):
        return fn
    if isinstance(fn, torch._ops.OpOverloadPacket):
        return opdefs.get(fn._qualified_op_name)
    if isinstance(fn, torch._ops.OpOverload):
        return opdefs.get(fn._name)
    return None


def is_torch_operator(function: Callable[..., Any]) -> bool:
    """Whether ``function`` is a ``torch.ops`` operator (custom op or not)."""
    fn = inspect.unwrap(function)
    return isinstance(fn, (torch._ops.OpOverloadPacket, torch._ops.OpOverload))


def describe(op: Any) -> str:
    """``custom op ns::name``: how reports and messages name the op."""
    return f"custom op {op._qualname}"


def mutated_positions(op: Any) -> tuple[int, ...]:
    """Positions of the arguments the op's schema declares it modifies (``mutates_args``)."""
    schema = op._opoverload._schema
    return tuple(i for i, a in enumerate(schema.arguments) if a.alias_info is not None and a.alias_info.is_write)


def has_fake(op: Any) -> bool:
    """A registered fake implementation, or one torch generates (an op that returns nothing)."""
    from torch._library import utils

    return op._abstract_fn is not None or utils.can_generate_trivial_fake_impl(op._opoverload)


@contextlib.contextmanager
def patched_registration(op: Any, record_inputs: Callable[..., None], record_backward: Callable[..., Any]) -> Iterator[None]:
    """Route the op's registered ``setup_context`` and ``backward`` through recorders while the
    block runs (torch reads them from the ``CustomOpDef`` at each call); restored afterwards.

    ``record_inputs(ctx, inputs)`` sees each forward's inputs; ``record_backward(user_backward,
    ctx, *grads)`` calls the user's backward and returns what it returned.
    """
    user_setup, user_backward = op._setup_context_fn, op._backward_fn

    def setup_context(ctx, inputs, output, **keyword_only_inputs):
        record_inputs(ctx, inputs)
        if user_setup is not None:
            user_setup(ctx=ctx, inputs=inputs, output=output, **keyword_only_inputs)

    def backward(ctx, *grads):
        return record_backward(user_backward, ctx, *grads)

    op._setup_context_fn = setup_context
    if user_backward is not None:
        op._backward_fn = backward
    try:
        yield
    finally:
        op._setup_context_fn, op._backward_fn = user_setup, user_backward
