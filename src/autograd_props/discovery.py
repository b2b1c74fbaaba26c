"""Checking custom Functions with no spec written: ``discover(target)`` finds every
``torch.autograd.Function`` subclass and ``torch.library.custom_op`` a module, package or file
defines, and infers a :class:`~autograd_props.FunctionSpec` for each.

* The reference is the Function's own forward run outside it under native autograd
  (``_discover/forward_reference.py``); where autograd cannot follow the forward, ``None``
  (finite differences and self-consistency), and the spec's notes say why.
* The arguments come from the signature, a custom op's schema and probing
  (``_discover/arguments.py`` states the rules).
* A Function nothing works for is listed in ``not_inferred`` with the reason: the gate does not
  pass while one is (exit code 5 when nothing failed).

``python -m autograd_props discover TARGET`` runs the gate over them (the spec source
``discover:TARGET``, which every pytest-xdist worker and reproducer rebuilds the same way), and
``--write-specs FILE`` writes them as a spec module to edit and commit.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from typing import Any

import torch

from autograd_props._discover.arguments import CONSTANT_NAMES, ArgsPlan, infer_args, parameters
from autograd_props._discover.finding import Found, TargetError, find, modules_of
from autograd_props._discover.forward_reference import forward_reference, judge
from autograd_props._discover.stand_in_ctx import StandInCtx
from autograd_props.loading import DISCOVER_PREFIX
from autograd_props.spec import COMPLEX_DTYPES, FLOATING_DTYPES, FunctionSpec, defines_setup_context

__all__ = ["DISCOVER_PREFIX", "Discovery", "NotInferred", "SURROGATE_HINT", "TargetError", "discover", "forward_reference"]

SURROGATE_HINT = "backward is not the derivative of forward: a bug, or a surrogate (declare `surrogate_gradient=`)"
# The properties whose failure, for an inferred spec, may be a surrogate gradient by design.
GRADIENT_PROPERTIES = ("vjp_native", "vjp_finite_differences")
WRITE_A_SPEC = "write a FunctionSpec for it (README: Checking your own Functions)"


@dataclasses.dataclass(frozen=True)
class NotInferred:
    """A Function discovery found but could not infer a spec for."""

    where: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: not inferred: {self.why}; {WRITE_A_SPEC}"


@dataclasses.dataclass(frozen=True)
class Inferred:
    """How one spec was inferred: what a written spec module needs besides the spec."""

    found: Found
    plan: ArgsPlan
    reference_note: str  # "" when the forward is the reference
    notes: tuple[str, ...]


class Discovery(tuple):
    """The inferred specs (a tuple, for ``check()`` and ``gate()``), with ``not_inferred``
    (:class:`NotInferred` each), ``found`` (everything found) and ``inferred`` (how, per spec)."""

    target: str
    not_inferred: tuple[NotInferred, ...]
    found: tuple[Found, ...]
    inferred: tuple[Inferred, ...]

    def __new__(cls, target: str, specs, not_inferred, found, inferred) -> Discovery:
        self = super().__new__(cls, specs)
        self.target, self.not_inferred, self.found, self.inferred = target, tuple(not_inferred), tuple(found), tuple(inferred)
        return self


_CACHE: dict[str, Discovery] = {}


def discover(target: str) -> Discovery:
    """The inferred specs of every Function and custom op ``target`` defines (a module name, a
    package, walked recursively, or a path to a ``.py`` file or a folder).  Raises
    :class:`TargetError` when the target cannot be imported.  The same target gives the same
    specs in every process (the probes are derandomized); within a process it is inferred once."""
    key = target.strip() if isinstance(target, str) else target
    if key not in _CACHE:
        found = find(modules_of(key))
        specs, missing, how = [], [], []
        names = _spec_names(found)
        for item in found:
            try:
                result = _infer(item, names[id(item.obj)], key)
            except Exception as exc:  # the user's code raised where inference did not expect it: that Function alone
                result = NotInferred(item.where, f"inference raised {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
            if isinstance(result, NotInferred):
                missing.append(result)
            else:
                specs.append(result[0])
                how.append(result[1])
        _CACHE[key] = Discovery(key, specs, missing, found, how)
    return _CACHE[key]


def _spec_names(found: list[Found]) -> dict[int, str]:
    """A unique identifier per Function: its name, with its module's last part where two share one."""
    plain = [re.sub(r"\W", "_", f.name) for f in found]
    names = {}
    for f, name in zip(found, plain):
        if plain.count(name) > 1:
            name = re.sub(r"\W", "_", f.module.rsplit(".", 1)[-1]) + "_" + name
        names[id(f.obj)] = name
    return names


def _subject(item: Found) -> tuple[Callable[..., Any], Callable[..., Any], bool, Any]:
    """(what the gate calls, the forward whose signature names the arguments, whether that
    forward takes ctx first, a custom op's schema or None)."""
    if item.kind == "function":
        cls = item.obj
        return cls.apply, cls.forward, not defines_setup_context(cls), None
    op = item.obj
    return op, op._init_fn, False, op._opoverload._schema


def _why_unsupported(item: Found) -> str | None:
    if item.kind == "function":
        cls = item.obj
        if cls.backward is torch.autograd.Function.backward and cls.vjp is torch.autograd.Function.vjp:
            return "it defines no backward"
        return None
    op = item.obj
    if op._backward_fn is None:
        return "it registers no autograd (register_autograd)"
    from autograd_props.custom_op import mutated_positions

    if mutated_positions(op):
        return "it mutates its arguments"
    return None


def _modifies_inputs(item: Found, example: tuple) -> bool:
    """Whether the forward marks an input dirty (an in-place Function)."""
    if item.kind != "function":
        return False
    cls = item.obj
    args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in example)
    ctx = StandInCtx(args)
    try:
        with torch.no_grad():
            if defines_setup_context(cls):
                cls.setup_context(ctx, args, cls.forward(*args))
            else:
                cls.forward(ctx, *args)
    except Exception:
        return False
    return bool(ctx.dirty)


def _constants(function: Callable[..., Any], example: tuple, names: list[str]) -> tuple[int, ...]:
    """Positions of floating inputs named like constants (targets, masks, scales) that the
    Function's backward gives no gradient (None): it declares them constant."""
    candidates = [i for i, a in enumerate(example) if isinstance(a, torch.Tensor) and a.is_floating_point() and names[i].lower() in CONSTANT_NAMES]
    if not candidates:
        return ()
    args = [a.detach().clone().requires_grad_(True) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in example]
    try:
        out = function(*args)
        outs = [o for o in (out if isinstance(out, tuple) else (out,)) if isinstance(o, torch.Tensor) and o.requires_grad]
        grads = torch.autograd.grad(outs, [args[i] for i in candidates], [torch.ones_like(o) for o in outs], allow_unused=True)
    except Exception:
        return ()
    return tuple(i for i, g in zip(candidates, grads) if g is None)


# What a Function written for complex tensors says in its code: a real Function has no use for
# conjugates or real and imaginary parts, and a complex one needs them (PyTorch's gradient of a
# complex function is the conjugate Wirtinger derivative).
COMPLEX_WORDS = re.compile(r"\bconj\b|\.conj_physical\b|\.real\b|\.imag\b|\bis_complex\b|\bview_as_real\b|\bview_as_complex\b")


def _written_for_complex(item: Found) -> bool:
    """Whether the Function's own code (its class and the user's classes it derives from)
    handles complex tensors."""
    if item.kind != "function":
        return False
    for cls in item.obj.__mro__:
        if cls.__module__.startswith("torch"):
            continue
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        if COMPLEX_WORDS.search(source):
            return True
    return False


def _dtypes(function: Callable[..., Any], example: tuple, complex_too: bool) -> tuple[tuple[torch.dtype, ...], list[str]]:
    """The floating dtypes the forward runs in (float64 always: the oracles need it), and the
    complex ones for a Function written for them."""
    kept, dropped = [torch.float64], []
    for dtype in FLOATING_DTYPES[1:] + (COMPLEX_DTYPES if complex_too else ()):
        args = tuple(a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in example)
        try:
            with torch.no_grad():
                function(*args)
            kept.append(dtype)
        except Exception as exc:
            dropped.append(f"{str(dtype).removeprefix('torch.')} ({type(exc).__name__})")
    return tuple(kept), dropped


def _infer(item: Found, name: str, target: str) -> tuple[FunctionSpec, Inferred] | NotInferred:
    why = _why_unsupported(item)
    if why:
        return NotInferred(item.where, why)
    function, forward, takes_ctx, schema = _subject(item)
    try:
        params = parameters(forward, skip_first=takes_ctx, schema=schema)
        plan, examples, args_note = infer_args(name, function, params)
    except ValueError as exc:
        return NotInferred(item.where, str(exc))
    example = examples[-1]
    if _modifies_inputs(item, example):
        return NotInferred(item.where, "it modifies its inputs in place (mark_dirty); a spec declares which with in_place=")
    names = [p.name for p in params]
    constants = _constants(function, example, names)
    differentiable = [i for i, a in enumerate(example) if isinstance(a, torch.Tensor) and a.is_floating_point() and i not in constants]
    reference = forward_reference(item.obj)
    reference_note = judge(reference, function, examples[:8], differentiable) or ""
    complex_too = _written_for_complex(item)
    dtypes, dropped = _dtypes(function, example, complex_too)
    notes = [f"inferred from {item.where}: arguments {plan.description}"]
    notes.append(
        f"reference: none, {reference_note}: judged by finite differences and self-consistency"
        if reference_note
        else "reference: the forward run outside the Function under native autograd"
    )
    if args_note:
        notes.append(args_note)
    if constants:
        notes.append("treated as constants (the backward gives them no gradient): " + ", ".join(names[i] for i in constants))
    if complex_too:
        notes.append("written for complex tensors (conj, real or imag parts in its code): complex dtypes drawn too")
    if dropped:
        notes.append("dtypes the forward refuses, not checked: " + ", ".join(dropped))
    spec = FunctionSpec(
        name=name,
        function=function,
        reference=None if reference_note else reference,
        args=plan.build(),
        dtypes=dtypes,
        non_differentiable=constants,
        # The forward as written takes autograd's side at a kink (clamp_min(0) has slope 1 at 0):
        # a convention of how it was written, not one the Function must share.
        kinks="any-one-sided",
    )
    # Reproducers of a spec given as an object (check(), gate()) find it again by this source.
    object.__setattr__(spec, "_module", DISCOVER_PREFIX + target)
    object.__setattr__(spec, "inference_notes", tuple(notes))
    object.__setattr__(spec, "failure_hint", _failure_hint)
    return spec, Inferred(item, plan, reference_note, tuple(notes))


def _failure_hint(prop: str) -> str | None:
    """What a failure of ``prop`` may mean for an inferred spec."""
    return SURROGATE_HINT if prop in GRADIENT_PROPERTIES else None
