"""FunctionSpec: the one declarative entry that describes a custom autograd Function.

A spec names the Function under test, a reference written in native differentiable torch ops,
and a Hypothesis strategy for its positional arguments.  Every property of the registry
(``autograd_props.properties``) runs over every spec; a spec opts out of a property only by
naming it and giving a reason (the registry checks the name when the spec is loaded).
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import torch
from hypothesis import HealthCheck
from hypothesis.strategies import SearchStrategy

from autograd_props import custom_op as custom_ops
from autograd_props.complex_views import COMPLEX_DTYPES, calling_with_complex_views, real_dtype
from autograd_props.in_place import calling_in_place
from autograd_props.keyword_args import calling_with_keywords
from autograd_props.own_reference import own_float64

__all__ = ["FunctionSpec", "FLOATING_DTYPES", "COMPLEX_DTYPES", "DEFAULT_TOLERANCES", "SpecError", "Tolerance", "defines_setup_context"]

FLOATING_DTYPES: tuple[torch.dtype, ...] = (
    torch.float64,
    torch.float32,
    torch.float16,
    torch.bfloat16,
)

Tolerance = tuple[float, float]  # (rtol, atol)
KINK_RULES = ("reference", "any-one-sided")
SIZES = ("small", "large")


class SpecError(ValueError):
    """A FunctionSpec field holds a value the suite cannot use."""


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclasses.dataclass(frozen=True)
class FunctionSpec:
    """How to check one custom ``torch.autograd.Function``.

    Required:
        name: unique; it appears in every test id that concerns this spec.
        function: the callable under test, usually ``MyFunction.apply``; or a
            ``torch.library.custom_op`` (its ``CustomOpDef``, ``torch.ops.ns.name`` or
            ``.default``), whose claims are read from what it registered (``custom_op.py``).
        reference: the same math in native differentiable torch ops, same signature; or None
            when torch has no such op: each dtype is then compared with the Function's own
            float64 result, float64 is judged by finite differences and self-consistency, and
            the cells left with nothing to compare say so (see ``own_reference.py``).
        args: ``args(dtype, device)`` returns a Hypothesis strategy of positional-argument tuples.
            Tensors come plain (no ``requires_grad``); the suite decides which require grad.  A
            last element ``Keywords(dim=1, ...)`` is passed as keyword arguments (``keyword_args.py``).

    Optional:
        dtypes: floating dtypes the Function supports (default: float64, float32, float16,
            bfloat16), or complex ones (complex128, complex64: the args strategy then draws
            complex tensors, checked through their real views, see ``complex_views.py``).
            float64 (complex128 for a complex spec) is required unless the spec opts out of the
            finite-difference property, because that oracle runs in float64.
        tolerances: per-dtype ``(rtol, atol)`` overrides of torch.testing's defaults.
        surrogate_gradient: a reason, when the backward is intentionally not the derivative of
            the forward (gradient reversal, straight-through).  Finite-difference properties are
            then skipped visibly with this reason; the reference must express the same surrogate.
        opt_outs: ``{property name: reason}``; every other property applies.
        function_class: the ``torch.autograd.Function`` subclass, when ``function`` is a wrapper
            rather than ``Cls.apply`` (capabilities such as ``jvp`` are read from it).
        non_differentiable: positions of floating tensor arguments the Function treats as
            constants (labels, thresholds, quantization scales): they never require grad, are
            never perturbed, and get no tangent or gradient check.
        in_place: positions of the arguments the Function modifies in place and marks dirty
            (``ctx.mark_dirty``); the reference must modify them the same way (``x.mul_(s)``).
            The suite calls both on clones of those arguments (non-leaves when they require grad)
            and treats each modified argument as one more output, after the returned ones, so
            its values and its gradient history are checked like any output (see ``in_place.py``).
        nondet_ulps: for a backward that sums in a nondeterministic order (atomics on GPU), in
            the spirit of gradcheck's ``nondet_tol``: two backward passes over one graph (and
            passes with other inputs requiring grad) may differ by this many ulps of the dtype
            times the size of the terms each gradient element sums (|J|^T |u|, from the float64
            reference).  0 (default): they must be identical.
        hypothesis: Hypothesis settings for this spec's cells: ``{"max_examples": 50}`` (the
            example budget) and ``{"suppress_health_check": {HealthCheck.too_slow: "why"}}`` (each
            health check with its reason, which the report shows).
        sizes: ``"small"`` (default: at most 5 a side, 3 dimensions) or ``"large"``: the
            spec's ``shapes()`` and ``tensors()`` draw up to a million elements, at sides around
            powers of two and ``chunk_sizes`` (see ``sizes.py``; the ``autograd-props-large``
            profile draws every spec so).  Past 2^22 Jacobian entries the native oracle sizes
            results in O(n) (``magnitude_propagation.py``).
        chunk_sizes: the chunk, block or tile sizes the Function splits its work by (rows of a
            chunked loss, a kernel's block): large sizes draw sides one either side of their
            multiples, where a last partial chunk is.
        kinks: at a non-differentiable point, ``"reference"`` (default) requires the reference's
            derivative, as a drop-in replacement must give; ``"any-one-sided"`` also accepts
            either one-sided derivative there (the failure names the convention otherwise), in
            first and second derivatives, tangents and torch.func transforms alike.

    Example::

        FunctionSpec(name="square", function=Square.apply, reference=torch.square,
                     args=lambda dtype, device: tensors(dtype=dtype, device=device).map(lambda t: (t,)))
    """

    name: str
    function: Callable[..., Any]
    reference: Callable[..., Any] | None
    args: Callable[[torch.dtype, torch.device], SearchStrategy[tuple]]
    dtypes: tuple[torch.dtype, ...] = FLOATING_DTYPES
    tolerances: Mapping[torch.dtype, Tolerance] = dataclasses.field(default_factory=dict)
    surrogate_gradient: str | None = None
    opt_outs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    function_class: type[torch.autograd.Function] | None = None
    non_differentiable: tuple[int, ...] = ()
    kinks: str = "reference"
    in_place: tuple[int, ...] = ()
    nondet_ulps: float = 0.0
    hypothesis: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    sizes: str = "small"
    chunk_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _validate(self)
        # Where the spec was written, so a reproducer can import it again (not a field: two
        # specs that differ only in where they were built are the same spec).
        object.__setattr__(self, "_module", _calling_module())
        # Freeze the mappings so a spec cannot be changed behind the suite's back.
        object.__setattr__(self, "dtypes", tuple(self.dtypes))
        object.__setattr__(self, "non_differentiable", tuple(self.non_differentiable))
        object.__setattr__(self, "tolerances", _frozen(self.tolerances))
        object.__setattr__(self, "opt_outs", _frozen(self.opt_outs))
        object.__setattr__(self, "hypothesis", _frozen(self.hypothesis))
        # A torch.library custom op (not a field: it is what ``function`` is).
        object.__setattr__(self, "custom_op", custom_ops.custom_op_of(self.function))
        if self.function_class is None and self.custom_op is None:
            object.__setattr__(self, "function_class", _applied_class(self.function))
        object.__setattr__(self, "in_place", tuple(self.in_place))
        object.__setattr__(self, "chunk_sizes", tuple(self.chunk_sizes))
        # A trailing Keywords argument is passed as keyword arguments (see keyword_args.py).
        # Complex arguments and outputs cross as real views (see complex_views.py).
        object.__setattr__(self, "function", calling_with_complex_views(calling_with_keywords(self.function)))
        if self.reference is None or getattr(self.reference, "is_own_float64", False):
            raw = getattr(self.function, "raw", self.function)  # before in-place wrapping
            # (dataclasses.replace with another function: its own float64, not the old one's)
            if self.reference is None or getattr(self.reference, "own_of", None) is not raw:
                object.__setattr__(self, "reference", own_float64(raw, self.in_place))
        else:
            object.__setattr__(self, "reference", calling_with_complex_views(calling_with_keywords(self.reference)))
        if self.in_place:
            object.__setattr__(self, "function", calling_in_place(self.function, self.in_place, what=self.name))
            object.__setattr__(self, "reference", calling_in_place(self.reference, self.in_place, what=f"{self.name} reference"))

    @property
    def has_reference(self) -> bool:
        """Whether the spec gave a native reference (``reference=None``: the Function's own float64)."""
        return not getattr(self.reference, "is_own_float64", False)

    @property
    def module(self) -> str | None:
        """The module whose code built this spec (``__main__`` for a script), when known."""
        return self._module

    def differentiable(self, args: Sequence[Any]) -> tuple[int, ...]:
        """Positions of the arguments the suite differentiates: floating (or complex) tensors not
        declared constant.  The properties see complex ones as their real views."""
        return tuple(
            i
            for i, a in enumerate(args)
            if isinstance(a, torch.Tensor) and (a.is_floating_point() or a.is_complex()) and i not in self.non_differentiable
        )

    @property
    def function_label(self) -> str:
        """How messages name what is under test: the Function class, or ``custom op ns::name``."""
        return custom_ops.describe(self.custom_op) if self.custom_op is not None else self.function_class.__name__

    @property
    def supports_functorch(self) -> bool:
        """torch.func transforms (vmap, grad, vjp, jvp, jacrev) accept only Functions with a
        ``setup_context``: the classic ``forward(ctx, ...)`` style is refused by PyTorch, not claimed.
        A custom op's autograd is such a classic Function of torch's own (``register_autograd``)."""
        return self.custom_op is None and defines_setup_context(self.function_class)

    @property
    def claims_forward_ad(self) -> bool:
        """A ``jvp`` override claims forward-mode AD; a custom op has no way to register one."""
        return self.custom_op is None and self.function_class.jvp is not torch.autograd.Function.jvp

    @property
    def claims_vmap(self) -> bool:
        """``generate_vmap_rule = True`` or a ``vmap`` override claims vmap support
        (``register_vmap`` for a custom op)."""
        if self.custom_op is not None:
            return self.custom_op._vmap_fn is not None
        cls = self.function_class
        return bool(getattr(cls, "generate_vmap_rule", False)) or cls.vmap is not torch.autograd.Function.vmap

    @property
    def claims_double_backward(self) -> bool:
        """A backward decorated with ``once_differentiable`` disclaims double backward."""
        if self.custom_op is not None:
            backward = self.custom_op._backward_fn
        else:
            cls = self.function_class
            backward = getattr(cls, "vjp" if cls.vjp is not torch.autograd.Function.vjp else "backward")
        code = getattr(backward, "__code__", None)
        return not (code is not None and code.co_name == "wrapper" and code.co_filename == _ONCE_DIFFERENTIABLE_FILE)

    def tolerance(self, dtype: torch.dtype) -> Tolerance:
        """(rtol, atol) for dtype: the spec's override or torch.testing's default; (0, 0), exact,
        for a non-floating dtype (indices, codes, masks).  A complex dtype's real views are
        judged with its override, else with its parts' dtype's."""
        if dtype.is_complex:
            return self.tolerances.get(dtype) or self.tolerance(real_dtype(dtype))
        if not dtype.is_floating_point:
            return (0.0, 0.0)
        for complex_dtype in COMPLEX_DTYPES:  # the properties see a complex cell's real views
            if real_dtype(complex_dtype) == dtype and complex_dtype in self.dtypes and dtype not in self.dtypes:
                return self.tolerances.get(complex_dtype) or DEFAULT_TOLERANCES[dtype]
        if dtype in self.tolerances:
            return self.tolerances[dtype]
        return DEFAULT_TOLERANCES[dtype]

    @property
    def full_precision_dtype(self) -> torch.dtype:
        """The dtype the float64-only oracles run in: float64, or complex128 for a complex spec."""
        return torch.complex128 if torch.float64 not in self.dtypes and torch.complex128 in self.dtypes else torch.float64


def defines_setup_context(cls: type) -> bool:
    """Whether a Function is written in the modern style: ``forward(*args)`` plus ``setup_context``."""
    return getattr(cls, "setup_context", None) is not getattr(torch.autograd.Function, "setup_context", None)


def _calling_module() -> str | None:
    """The first module up the stack that is neither this one nor ``dataclasses`` (``replace``)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name not in (__name__, "dataclasses"):
            return name
        frame = frame.f_back
    return None


# once_differentiable wraps backward in a function named "wrapper" defined in this file.
_ONCE_DIFFERENTIABLE_FILE = torch.autograd.function.once_differentiable.__code__.co_filename

# torch.testing.assert_close's defaults, written out because they are not public API.
DEFAULT_TOLERANCES: Mapping[torch.dtype, Tolerance] = MappingProxyType(
    {
        torch.float64: (1e-7, 1e-7),
        torch.float32: (1.3e-6, 1e-5),
        torch.float16: (1e-3, 1e-5),
        torch.bfloat16: (1.6e-2, 1e-5),
    }
)


def fail(spec_name: object, field: str, value: object, why: str) -> None:
    """Raise the SpecError that names the spec, the field and its value."""
    raise SpecError(f"FunctionSpec {spec_name!r}: field {field!r} = {value!r}: {why}")


def _validate(spec: FunctionSpec) -> None:
    name = spec.name
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        fail(name, "name", name, "must be a non-empty string of letters, digits, '-' and '_'")
    for field in ("function", "reference", "args"):
        value = getattr(spec, field)
        if not callable(value) and not (field == "reference" and value is None):
            fail(name, field, value, "must be callable" + (" or None (no native reference)" if field == "reference" else ""))
    _validate_args_signature(spec)
    _validate_function_class(spec)
    dtypes = spec.dtypes
    if isinstance(dtypes, torch.dtype) or not isinstance(dtypes, (tuple, list)) or not dtypes:
        fail(name, "dtypes", dtypes, "must be a non-empty tuple of floating or complex torch dtypes")
    for dtype in dtypes:
        if dtype not in FLOATING_DTYPES + COMPLEX_DTYPES:
            fail(name, "dtypes", dtypes, f"{dtype!r} is not one of {FLOATING_DTYPES + COMPLEX_DTYPES}")
    if len(set(dtypes)) != len(dtypes):
        fail(name, "dtypes", dtypes, "lists a dtype twice")
    if not isinstance(spec.tolerances, Mapping):
        fail(name, "tolerances", spec.tolerances, "must map dtype -> (rtol, atol)")
    for dtype, tol in spec.tolerances.items():
        if dtype not in FLOATING_DTYPES + COMPLEX_DTYPES:
            fail(name, "tolerances", dict(spec.tolerances), f"key {dtype!r} is not a floating dtype")
        if (
            not isinstance(tol, tuple)
            or len(tol) != 2
            or not all(isinstance(t, (int, float)) and t >= 0 for t in tol)
        ):
            fail(name, "tolerances", dict(spec.tolerances), f"value {tol!r} for {dtype} must be (rtol >= 0, atol >= 0)")
    if spec.surrogate_gradient is not None and (
        not isinstance(spec.surrogate_gradient, str) or not spec.surrogate_gradient.strip()
    ):
        fail(name, "surrogate_gradient", spec.surrogate_gradient, "must be None or a non-empty reason")
    if not isinstance(spec.opt_outs, Mapping):
        fail(name, "opt_outs", spec.opt_outs, "must map property name -> reason")
    for prop, reason in spec.opt_outs.items():
        if not isinstance(prop, str):
            fail(name, "opt_outs", dict(spec.opt_outs), f"key {prop!r} is not a property name")
        if not isinstance(reason, str) or not reason.strip():
            fail(name, "opt_outs", dict(spec.opt_outs), f"opt-out of {prop!r} needs a non-empty reason")
    non_diff = spec.non_differentiable
    if isinstance(non_diff, int) or not isinstance(non_diff, (tuple, list)) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in non_diff
    ):
        fail(name, "non_differentiable", non_diff, "must be a tuple of argument positions (non-negative ints)")
    in_place = spec.in_place
    if isinstance(in_place, int) or not isinstance(in_place, (tuple, list)) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in in_place
    ) or len(set(in_place)) != len(in_place):
        fail(name, "in_place", in_place, "must be a tuple of distinct argument positions (non-negative ints)")
    ulps = spec.nondet_ulps
    if isinstance(ulps, bool) or not isinstance(ulps, (int, float)) or not (0 <= ulps < float("inf")):
        fail(name, "nondet_ulps", ulps, "must be a finite number >= 0 (ulps of the dtype)")
    _validate_hypothesis(spec)
    if spec.sizes not in SIZES:
        fail(name, "sizes", spec.sizes, f"must be one of {SIZES}")
    chunks = spec.chunk_sizes
    if not isinstance(chunks, (tuple, list)) or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in chunks):
        fail(name, "chunk_sizes", chunks, "must be a tuple of ints >= 1 (rows, elements or a block side)")
    if spec.kinks not in KINK_RULES:
        fail(name, "kinks", spec.kinks, f"must be one of {KINK_RULES}")
    full = torch.float64 in dtypes or torch.complex128 in dtypes
    if spec.reference is None and not full:
        fail(name, "dtypes", dtypes, "float64 (or complex128) is needed without a reference: every dtype is compared with the Function's own float64 result")
    if not full and "vjp_finite_differences" not in spec.opt_outs and not spec.surrogate_gradient:
        fail(name, "dtypes", dtypes, "float64 (or complex128) is needed by the finite-difference oracle; add it or opt out of 'vjp_finite_differences'")


def _validate_hypothesis(spec: FunctionSpec) -> None:
    given = spec.hypothesis
    if not isinstance(given, Mapping):
        fail(spec.name, "hypothesis", given, "must map setting -> value")
    unknown = set(given) - {"max_examples", "suppress_health_check"}
    if unknown:
        fail(spec.name, "hypothesis", dict(given), f"unknown settings {sorted(unknown)}; a spec may set max_examples and suppress_health_check")
    examples = given.get("max_examples")
    if examples is not None and not (isinstance(examples, int) and not isinstance(examples, bool) and examples > 0):
        fail(spec.name, "hypothesis", dict(given), "max_examples must be a positive int")
    suppressed = given.get("suppress_health_check", {})
    if not isinstance(suppressed, Mapping) or not all(
        isinstance(check, HealthCheck) and isinstance(reason, str) and reason.strip() for check, reason in suppressed.items()
    ):
        fail(spec.name, "hypothesis", dict(given), "suppress_health_check must map each HealthCheck to the reason it is suppressed")


def _validate_args_signature(spec: FunctionSpec) -> None:
    try:
        inspect.signature(spec.args).bind(torch.float64, torch.device("cpu"))
    except TypeError:
        fail(spec.name, "args", spec.args, "must accept (dtype, device) and return a strategy of tuples")
    except ValueError:  # builtins without a signature: accept and let the first draw tell
        pass


def _applied_class(function: Callable[..., Any]) -> Any:
    """The class of ``MyFunction.apply``, also through the suite's own wrappers (``__wrapped__``),
    as when a spec is built from another spec's ``function``."""
    return getattr(inspect.unwrap(function), "__self__", None)


def _validate_function_class(spec: FunctionSpec) -> None:
    cls = spec.function_class
    if custom_ops.custom_op_of(spec.function) is not None:
        if cls is not None:
            fail(spec.name, "function_class", cls, "must be None for a custom op: its claims are read from its registrations")
        if spec.in_place:
            fail(spec.name, "in_place", spec.in_place, "a custom op that modifies its inputs cannot register autograd (torch refuses)")
        return
    if cls is None and custom_ops.is_torch_operator(spec.function):
        fail(
            spec.name,
            "function",
            spec.function,
            "is a torch.ops operator not defined with torch.library.custom_op (torch 2.4+); the suite reads a custom "
            "op's claims from its CustomOpDef, so define it with custom_op, or pass the Function that wraps it",
        )
    if cls is None:
        cls = _applied_class(spec.function)
        if not (isinstance(cls, type) and issubclass(cls, torch.autograd.Function)):
            fail(
                spec.name,
                "function",
                spec.function,
                "is not a Function's .apply; pass function_class= naming the torch.autograd.Function subclass",
            )
    elif not (isinstance(cls, type) and issubclass(cls, torch.autograd.Function)):
        fail(spec.name, "function_class", cls, "must be a torch.autograd.Function subclass")
