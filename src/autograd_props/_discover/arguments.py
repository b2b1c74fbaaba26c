"""Inferring a Function's arguments: what each parameter is, and a family of shapes the forward
accepts, written as the source of an ``args(dtype, device)`` strategy function.

What each parameter is, from (first that applies) its annotation or a custom op's schema type,
its default, then its name:

* ``Tensor`` (also ``Optional[Tensor]`` without a default): a floating tensor; named ``labels``,
  ``label``, ``y_true``: integer class labels; ``target(s)``, ``y``: a floating tensor, then
  integer class labels;
  named ``index``, ``indices``, ``idx``, ``ids``, ``input_ids``: integer indices.
* ``int`` named ``dim`` or ``axis`` (or so named without annotation): a dimension, drawn with
  ``dims()``, else its default; another ``int``, ``float``, ``bool`` or ``str``: its default, else
  1, 0.5 (``eps``, ``epsilon``: 1e-5), False (also for ``keepdim``, ``training``, ``inplace`` and
  the like without annotation); a ``str`` without a default is not inferred.
* a default of ``None``: None; any other default: that value.
* no annotation and no default: a floating tensor (by the name rules above).

Shape families, tried in this order until the forward accepts every one of a fixed set of draws
and gives a floating output (most general first, so a broadcasting bug is drawn when the forward
allows broadcasting):

1. ``broadcast``: the floating tensors of ``broadcastable_shapes(n)`` (two or more tensors);
2. ``same``: one shape from ``shapes()`` for every floating tensor;
3. ``last_dim``: ``x`` of shape ``(..., d)``, every other tensor ``(d,)`` (a norm's weight, bias);
4. ``channels``: ``x`` of shape ``(n, c, ...)``, every other tensor ``(c,)`` (a 2-d norm's weight),
   with up to two spatial dims, then exactly two;
5. ``matrix``: ``x`` of shape ``(..., k)``, a weight ``(m, k)`` (``x @ W.T``), the rest ``(m,)``;
6. ``matrix_t``: the same with the weight ``(k, m)`` (``x @ W``);
7. ``classes``: floating tensors ``(n, c)`` and labels ``indices(c)`` of shape ``(n,)``;
8. ``table``: a table ``(v, d)`` and ``indices(v)`` of any shape (an embedding lookup).

Families 1 and 2 are tried at growing least sizes (any shape, at least 1-d with sides >= 1, at
least 2-d); a ``dim`` is drawn before its default is tried; values from ``elements()`` before
non-negative ones (taken when the forward gives NaN on finite inputs, a domain like log's).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from autograd_props import strategies

__all__ = ["ArgsPlan", "Param", "STRATEGY_NAMES", "infer_args", "parameters", "strategy_namespace"]

DIM_NAMES = {"dim", "axis", "dims"}
EPS_NAMES = {"eps", "epsilon"}
LABEL_NAMES = {"labels", "label", "y_true", "classes"}
TARGET_NAMES = {"target", "targets", "y"}  # a float tensor first (a regression loss), else labels
LOSS_TARGET_NAMES = {"target", "targets"}
BOOL_NAMES = {"keepdim", "keepdims", "training", "inplace", "causal", "descending", "largest", "sorted", "upper", "transpose"}
INDEX_NAMES = {"index", "indices", "idx", "ids", "input_ids", "token_ids"}
WEIGHT_NAMES = {"weight", "weights", "w", "W", "kernel"}
# Floating inputs a Function commonly treats as constants: one its backward gives None for is
# declared non-differentiable (never required to have a gradient).
# Unannotated parameters without a default that name a scalar hyperparameter (a gradient
# reversal's alpha, a distillation temperature): drawn as a Python float, as callers pass them.
# Not gamma and beta: a normalization's weight and bias go by those names.
HYPERPARAMETER_NAMES = {"alpha", "temperature", "tau", "lambd", "lambda_", "lam", "margin", "negative_slope", "label_smoothing", "smoothing"}
CONSTANT_NAMES = TARGET_NAMES | LABEL_NAMES | {"y", "mask", "threshold", "thresholds", "scale", "scales", "zero_point", "noise"}

EMPTY = inspect.Parameter.empty
PROBES = 20  # draws a family must pass; fixed (derandomized), so every process infers the same


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` is tensor, labels, target (tensor else labels), index, dim or
    constant (``value`` given as is)."""

    name: str
    kind: str
    value: Any = None
    has_default: bool = False


def _annotation(param: inspect.Parameter, schema_type: str | None) -> str:
    if schema_type is not None:
        return schema_type
    ann = param.annotation
    if ann is EMPTY:
        return ""
    return ann if isinstance(ann, str) else getattr(ann, "__name__", repr(ann))


def _classify(param: inspect.Parameter, schema_type: str | None) -> Param:
    name, default = param.name, param.default
    has_default = default is not EMPTY
    ann = _annotation(param, schema_type)
    lowered = name.lower()
    if "Tensor" in ann and not (has_default and default is None):
        if lowered in LABEL_NAMES:
            return Param(name, "labels")
        if lowered in TARGET_NAMES:
            return Param(name, "target")
        return Param(name, "index" if lowered in INDEX_NAMES else "tensor")
    if has_default and default is None:
        return Param(name, "constant", None, True)
    if has_default and lowered in DIM_NAMES and isinstance(default, int) and not isinstance(default, bool):
        return Param(name, "dim", default, True)
    if has_default:
        return Param(name, "constant", default, True)
    if "bool" in ann or (not ann and lowered in BOOL_NAMES):
        return Param(name, "constant", False)
    if lowered in DIM_NAMES or ann in ("int", "SymInt"):
        return Param(name, "dim") if lowered in DIM_NAMES else Param(name, "constant", 1)
    if lowered in EPS_NAMES:
        return Param(name, "constant", 1e-5)
    if "float" in ann or (not ann and lowered in HYPERPARAMETER_NAMES):
        return Param(name, "constant", 0.5)
    if ann in ("str",):
        raise ValueError(f"parameter {name!r} is a str without a default")
    if ann and "Tensor" not in ann:
        raise ValueError(f"parameter {name!r}: cannot draw a {ann}")
    if lowered in LABEL_NAMES:
        return Param(name, "labels")
    if lowered in TARGET_NAMES:
        return Param(name, "target")
    return Param(name, "index" if lowered in INDEX_NAMES else "tensor")


def parameters(forward: Callable[..., Any], *, skip_first: bool, schema: Any = None) -> list[Param]:
    """The parameters of ``forward`` (without ctx when ``skip_first``), classified."""
    params = list(inspect.signature(forward).parameters.values())[1 if skip_first else 0 :]
    types = {}
    if schema is not None:
        types = {a.name: str(a.type).replace("Optional[", "").rstrip("]") for a in schema.arguments}
    found = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ValueError(f"the forward takes *{p.name}: its arguments cannot be read from the signature")
        if p.kind == p.KEYWORD_ONLY:
            if p.default is EMPTY:
                raise ValueError(f"keyword-only parameter {p.name!r} has no default")
            continue
        found.append(_classify(p, types.get(p.name)))
    return found


# The strategy functions an args source may use (the written spec module imports the same).
STRATEGY_NAMES = ("broadcastable_shapes", "dims", "elements", "indices", "shapes", "tensors")


def strategy_namespace() -> dict[str, Any]:
    namespace = {name: getattr(strategies, name) for name in STRATEGY_NAMES}
    namespace.update(st=st, torch=torch)
    return namespace


@dataclasses.dataclass(frozen=True)
class ArgsPlan:
    """An inferred argument family: its description and the source of its args function."""

    family: str
    description: str
    source: str  # ``def NAME(dtype, device): ...``
    function_name: str

    def build(self) -> Callable[..., Any]:
        namespace = strategy_namespace()
        exec(compile(self.source, f"<inferred args {self.function_name}>", "exec"), namespace)  # our own generated text
        return namespace[self.function_name]


def _tensor(shape: str, positive: bool) -> str:
    values = ", elements_strategy=elements(dtype).map(abs)" if positive else ""
    return f"tensors(dtype=dtype, device=device, shape={shape}{values})"


def _const(value: Any) -> str:
    from autograd_props.reproducer import literal

    return f"st.just({literal(value)})"


def _render(name: str, params: list[Param], outer: str, var: str, shape_of: Callable[[int, Param], str], ndim: str, *, positive: bool, dim_drawn: bool, labels: Callable[[Param], str] | None = None) -> str:
    items = []
    tensor_i = 0
    for p in params:
        if p.kind in ("tensor", "target") and not (p.kind == "target" and labels is not None):
            items.append(_tensor(shape_of(tensor_i, p), positive))
            tensor_i += 1
        elif p.kind in ("labels", "index", "target"):
            items.append(labels(p))
        elif p.kind == "dim":
            items.append(f"dims({ndim})" if dim_drawn or not p.has_default else _const(p.value))
        else:
            items.append(_const(p.value))
    body = ",\n".join(f"            {item}" for item in items)
    return (
        f"def {name}(dtype, device):\n"
        f"    return {outer}.flatmap(\n"
        f"        lambda {var}: st.tuples(\n{body},\n        )\n"
        f"    )\n"
    )


def candidates(name: str, params: list[Param]) -> list[ArgsPlan]:
    """Every family that applies to ``params``, in the order they are tried."""
    floats = [p for p in params if p.kind == "tensor"]
    targets = [p for p in params if p.kind == "target"]
    labelled = [p for p in params if p.kind == "labels"]
    indexed = [p for p in params if p.kind == "index"]
    has_dim = any(p.kind == "dim" for p in params)
    dim_choices = [True, False] if any(p.kind == "dim" and p.has_default for p in params) else [True]
    fn = f"{name}_args"
    plans = []
    for positive in (False, True):
        values = "; non-negative values" if positive else ""
        for dim_drawn in dim_choices:
            dims_text = ("; dim drawn by dims()" if dim_drawn else "; dim at its default") if has_dim else ""
            n = len(floats) + len(targets)
            if not labelled and not indexed and n >= 1:
                for min_dims, min_side in ((0, 0), (1, 1), (2, 1)):
                    sizes = f"min_dims={min_dims}, min_side={min_side}" if min_dims else ""
                    least = f" (at least {min_dims}-d)" if min_dims else ""
                    # A loss's target has its input's shape, as torch's losses demand (not a bare
                    # y: often a second operand, broadcast like the first).
                    if n >= 2 and not any(p.name.lower() in LOSS_TARGET_NAMES for p in targets):
                        outer = f"broadcastable_shapes({n}{', ' + sizes if sizes else ''})"
                        plans.append(ArgsPlan("broadcast", f"broadcastable shapes{least}{dims_text}{values}", _render(fn, params, outer, "drawn", lambda i, p: f"drawn[{i}]", "max(len(s) for s in drawn)", positive=positive, dim_drawn=dim_drawn), fn))
                    outer = f"shapes({sizes})"
                    plans.append(ArgsPlan("same", f"one shape for every tensor{least}{dims_text}{values}", _render(fn, params, outer, "shape", lambda i, p: "shape", "len(shape)", positive=positive, dim_drawn=dim_drawn), fn))
            if not labelled and not indexed and n >= 2:
                # Then x of at least 2 dims: a layer whose weight gradient sums over the leading dims
                # (a 1-d x has none) is meant for batches.
                for lead, least in (("shapes(max_dims=2)", ""), ("shapes(min_dims=1, max_dims=2, min_side=1)", " (x at least 2-d)")):
                    outer = f"st.tuples({lead}, st.integers(1, 5))"
                    plans.append(ArgsPlan("last_dim", f"x (..., d){least}, every other tensor (d,){dims_text}{values}", _render(fn, params, outer, "p", lambda i, p: "(*p[0], p[1])" if i == 0 else "(p[1],)", "len(p[0]) + 1", positive=positive, dim_drawn=dim_drawn), fn))
                for spatial, least in (("shapes(max_dims=2, min_side=1)", ""), ("shapes(min_dims=2, max_dims=2, min_side=1)", ", 2 spatial dims")):
                    outer = f"st.tuples(st.integers(1, 3), st.integers(1, 4), {spatial})"
                    plans.append(ArgsPlan("channels", f"x (n, c, ...{least}), every other tensor (c,){dims_text}{values}", _render(fn, params, outer, "p", lambda i, p: "(p[0], p[1], *p[2])" if i == 0 else "(p[1],)", "len(p[2]) + 2", positive=positive, dim_drawn=dim_drawn), fn))
                outer = "st.tuples(shapes(max_dims=2, min_side=1), st.integers(1, 5), st.integers(1, 5))"
                weight_i = next((i for i, p in enumerate(floats + targets) if p.name in WEIGHT_NAMES), 1)
                for family, weight_shape, what in (("matrix", "(p[2], p[1])", "x @ W.T"), ("matrix_t", "(p[1], p[2])", "x @ W")):
                    shape_of = lambda i, p, w=weight_shape, wi=weight_i: "(*p[0], p[1])" if i == 0 else w if i == wi else "(p[2],)"  # noqa: E731
                    plans.append(ArgsPlan(family, f"matrix-compatible ({what}: x (..., k), weight {'(m, k)' if family == 'matrix' else '(k, m)'}, others (m,)){dims_text}{values}", _render(fn, params, outer, "p", shape_of, "len(p[0]) + 1", positive=positive, dim_drawn=dim_drawn), fn))
            if (labelled or targets) and not indexed and floats:
                outer = "st.tuples(st.integers(1, 5), st.integers(1, 5))"
                label = lambda p: "indices(nc[1], device=device, shape=(nc[0],))"  # noqa: E731
                plans.append(ArgsPlan("classes", f"floating tensors (n, c), integer labels (n,) in [0, c){dims_text}{values}", _render(fn, params, outer, "nc", lambda i, p: "nc", "2", positive=positive, dim_drawn=dim_drawn, labels=label), fn))
            if indexed and not labelled and floats:
                outer = "st.tuples(st.integers(1, 5), st.integers(1, 5))"
                label = lambda p: "indices(vd[0], device=device, shape=shapes(max_dims=2))"  # noqa: E731
                plans.append(ArgsPlan("table", f"a table (v, d) and integer indices in [0, v){dims_text}{values}", _render(fn, params, outer, "vd", lambda i, p: "vd", "2", positive=positive, dim_drawn=dim_drawn, labels=label), fn))
    return plans


def draws(strategy: st.SearchStrategy, n: int = PROBES) -> list[Any]:
    """``n`` draws of ``strategy``, the same in every process (derandomized)."""
    found: list[Any] = []

    # A probe collects draws; it is not a test, so no health check applies (nesting included:
    # discovery may run inside a user's own Hypothesis test).
    @settings(max_examples=n, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate], deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    with _not_initializing():
        collect()
    return found[:n]


@contextlib.contextmanager
def _not_initializing() -> Iterator[None]:
    """Hypothesis warns about strategies drawn while pytest plugins initialize (slow plugin code);
    discovery draws its probes there on purpose (the gate's specs are loaded in
    pytest_configure, in every xdist worker), so the count of initializations is held at 0."""
    try:
        import _hypothesis_globals
    except ImportError:  # an older Hypothesis without the check
        yield
        return
    from hypothesis.configuration import notice_initialization_restarted

    held = _hypothesis_globals.in_initialization
    _hypothesis_globals.in_initialization = 0
    try:
        yield
    finally:
        _hypothesis_globals.in_initialization = held
        notice_initialization_restarted(warn=False)


def _float_outputs(out: Any) -> list[torch.Tensor]:
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, torch.Tensor) and o.is_floating_point()]


def _accepts(function: Callable[..., Any], examples: list[tuple]) -> tuple[bool, bool, str]:
    """(every example accepted with a floating output, some output NaN on finite inputs, why not)."""
    nan = False
    for example in examples:
        try:
            with torch.no_grad():
                out = function(*example)
        except Exception as exc:
            return False, False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
        outs = _float_outputs(out)
        if not outs:
            return False, False, "no floating output"
        nan = nan or any(bool(torch.isnan(o).any()) for o in outs)
    return True, nan, ""


def _backward_raises(function: Callable[..., Any], examples: list[tuple]) -> str:
    """Why the Function's backward raises on one of ``examples`` (ones as cotangents), or ""."""
    for example in examples:
        args = [a.detach().clone().requires_grad_(True) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in example]
        inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        try:
            outs = [o for o in _float_outputs(function(*args)) if o.requires_grad]
            if outs and inputs:
                torch.autograd.grad(outs, inputs, [torch.ones_like(o) for o in outs], allow_unused=True)
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
    return ""


def infer_args(name: str, function: Callable[..., Any], params: list[Param]) -> tuple[ArgsPlan, list[tuple], str]:
    """The first family the forward accepts (preferring one without NaN outputs), its probe draws
    in float64, and a note ("" or why smaller sizes were left out); ValueError saying what was
    tried when none works.

    Where the backward raises on a family's least sizes (a backward that assumes a last dim the
    forward does without), larger least sizes of the same family are preferred, and the note
    says so; if none helps, the family stays, and the gate reports the backward's error."""
    if not any(p.kind in ("tensor", "target") for p in params):
        raise ValueError("no floating tensor argument to differentiate")
    tried = []
    accepted_with_nan = None
    pending = None  # (plan, examples, why): the forward accepts it, the backward raised
    # A layer's weight and bias have the layer's shape, not the input's: where the backward
    # refuses them in broadcast shapes (a LayerNorm's weight (d,)), the later families are tried
    # too.  Elsewhere a backward that refuses broadcast shapes may be a missing reduction, a bug
    # the gate must see: only larger sizes of the same family are tried.
    layer = any(p.name in WEIGHT_NAMES or p.name == "bias" for p in params)
    for plan in candidates(name, params):
        if pending is not None and plan.family != pending[0].family and not layer:
            continue
        examples = draws(plan.build()(torch.float64, torch.device("cpu")))
        ok, nan, why = _accepts(function, examples)
        if ok and not nan:
            raised = _backward_raises(function, examples)
            if not raised:
                note = ""
                if pending is not None:
                    left_out = "smaller shapes" if plan.family == pending[0].family else pending[0].description
                    note = f"{left_out} left out: the backward raised {pending[2]} on them"
                return plan, examples, note
            if pending is None:
                pending = (plan, examples, raised)
            continue
        if ok and accepted_with_nan is None:
            accepted_with_nan = (plan, examples, "")
        if not ok and len(tried) < 3 and not any(t.endswith(why) for t in tried):
            tried.append(f"{plan.family}: {why}")
    if pending is not None:
        return pending[0], pending[1], ""
    if accepted_with_nan is not None:
        return accepted_with_nan
    raise ValueError("the forward refused every argument family tried (" + "; ".join(tried) + ")")
