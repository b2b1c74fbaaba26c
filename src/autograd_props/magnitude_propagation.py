"""What each result is a sum of, in O(n): running error analysis by propagating magnitudes.

Issue 17's replacement for the dense Jacobian in :func:`autograd_props.oracles.jacobian_magnitudes`
(numel_out x numel_in: 8 TB at a million elements), which uses it past its dense limit; the tests
compare it with the dense Jacobian on every built-in Function and twin.

The float64 reference runs once under :class:`MagnitudeMode`, a ``TorchDispatchMode`` that gives
every floating tensor the op graph makes a *magnitude* ``m >= |value|``, element by element:

* an input (a leaf): ``m = |x|`` (``|u|`` for a cotangent, ``|v|`` for a tangent: the JVP runs the
  reference in forward mode, its jvp formulas' ops coming through the mode like any other);
* an op: ``m(out) = |J_op| m(inputs) + |out|`` -- Wilkinson's running error bound: if every input
  and every op's result is off by a relative ``eps``, the result is off by at most ``eps m`` to
  first order.  Unlike ``|J| |x|`` of the whole reference it sees the rounding of intermediate
  results that cancel later (binary cross entropy with logits at x = -100, y = 0 is
  ``(1 - y) x + max(-x, 0) + log1p(exp(-|x|))``: about 1e-44, from terms of 100, whose rounding the
  Jacobian, about 1e-44 too, does not show), and shared reductions pass their rounding to every
  element that uses them (what the dense oracle's coupling did).
  Since ``|J1 J2| <= |J1| |J2|``, it is never below ``|J| |x|`` but for the rounding of ops
  differenced rather than derived (tests/test_magnitude_propagation.py checks every built-in
  Function and twin against the dense Jacobian).

``|J_op| m`` by kind of op, each exact for its kind:

* pointwise ops (``torch.Tag.pointwise``): per input, ``|f'(a)| m`` by torch's formula for the
  common ops (``pointwise_derivatives.py``), else ``|f(a + d m) - f(a - d m)| / 2d``: the op's
  response to an error of size ``m`` in that input;
* linear ops whose coefficients are 0 or positive (views, copies, indexing, ``cat``, ``sum``,
  ``mean``, ``cumsum``, scatter-adds): the op applied to the magnitudes;
* multilinear ops (``mm``, ``bmm``, ``addmm``, convolutions): the op applied to each input's
  magnitude with the other inputs in absolute value, summed;
* selections (``amax``, ``max.dim``, ``sort``, ``topk``): the selected elements' magnitudes
  (``amax`` of the magnitudes where the op returns no indices: an upper bound);
* composite ops (``_softmax``, ``native_layer_norm`` and their backwards, losses): broken into
  the ops above by ``torch._decomp``'s decompositions, variances by this module's own.

An op with no rule is recorded in :attr:`MagnitudeMode.unsized` (its result gets ``|out|``), so a
caller can fall back to the dense Jacobian or say which op it could not size, never guess.
Cost: one forward (and backward) of the reference, each pointwise op run twice more (five times
for one without a formula) and each linear op once more, on magnitudes: O(n), no Jacobian.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.autograd.forward_ad as fwAD
from torch._decomp import decomposition_table
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_unflatten
from torch.utils.weak import WeakTensorKeyDictionary

from autograd_props.messages import first_line
from autograd_props.pointwise_derivatives import derivative

__all__ = ["MagnitudeMode", "PropagatedMagnitudes", "propagated_magnitudes"]

aten = torch.ops.aten
# Relative steps of a pointwise op's difference (ops without a formula): the larger one stands
# above the noise of a kernel that cancels (1e-16 of its terms), the smaller one below the scale
# on which smooth functions bend.
STEPS = (2.0**-12, 2.0**-24)


def _packets(*names: str) -> frozenset:
    return frozenset(p for p in (getattr(aten, n, None) for n in names) if p is not None)


LINEAR = _packets(
    "view", "_unsafe_view", "reshape", "expand", "permute", "transpose", "t", "slice", "select", "squeeze", "unsqueeze",
    "clone", "contiguous", "_to_copy", "to", "alias", "as_strided", "unbind", "split", "split_with_sizes", "chunk", "narrow",
    "index_select", "gather", "index", "_unsafe_index", "embedding", "cat", "stack", "flip", "roll", "repeat", "diagonal",
    "sum", "mean", "cumsum", "scatter_add", "index_add", "embedding_dense_backward", "lift_fresh", "detach", "copy",
    "expand_copy", "view_copy", "permute_copy", "slice_copy", "select_copy", "unsqueeze_copy", "squeeze_copy",
    "transpose_copy", "t_copy", "scatter", "slice_scatter", "select_scatter", "diagonal_scatter", "constant_pad_nd",
    "masked_fill", "index_put", "_index_put_impl", "unfold", "movedim", "unbind_copy", "narrow_copy", "as_strided_scatter",
    "zeros_like", "ones_like", "empty_like", "full_like", "fill", "zero", "new_zeros", "new_ones", "new_full", "new_empty",
    "new_empty_strided", "_reshape_alias", "split_copy", "split_with_sizes_copy", "real", "atleast_1d", "atleast_2d", "atleast_3d",
)
# Linear ops that add (and so round); the others only move or pick values.
SUMMING = _packets("sum", "mean", "cumsum", "scatter_add", "index_add", "embedding_dense_backward", "index_put", "_index_put_impl")
MULTILINEAR = _packets("mm", "bmm", "matmul", "mv", "dot", "addmm", "baddbmm", "addmv", "addbmm", "convolution", "_convolution", "linear")
SELECTING_WITH_INDICES = _packets("sort", "topk", "kthvalue", "median", "nanmedian", "mode", "cummax", "cummin")
SELECTING = _packets("amax", "amin", "max", "min")
RULED = LINEAR | MULTILINEAR | SELECTING_WITH_INDICES | SELECTING
# prims.where (in the decompositions of losses such as nll_loss): each element moved from one input.
PRIMS_WHERE = torch.ops.prims.where.default


def _is_float(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.dtype.is_floating_point


def _first(out: Any) -> Any:
    return out[0] if isinstance(out, (tuple, list)) else out


def _functional(func):
    """The out-of-place overload of an in-place op (``add_`` -> ``add``), to compute on copies."""
    if not func._schema.is_mutable:
        return func
    packet = getattr(aten, func.overloadpacket.__name__.rstrip("_"), None)
    return getattr(packet, func._overloadname, func) if packet is not None else func


def _variance(x: torch.Tensor, dim, correction, keepdim: bool) -> torch.Tensor:
    """sum((x - mean)^2) / (N - correction), in ops the mode sizes (torch._decomp's goes to prims)."""
    dims = list(range(x.dim())) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    count = 1
    for d in dims:
        count *= x.shape[d] if x.dim() else 1
    centred = x - x.mean(dims, keepdim=True) if x.dim() else x - x
    squares = (centred * centred).sum(dims, keepdim=keepdim) if x.dim() else centred * centred
    return squares / max(count - (1 if correction is None else correction), 0)


def _var(x, dim=None, *, correction=None, keepdim=False):
    return _variance(x, dim, correction, keepdim)


def _var_mean(x, dim=None, *, correction=None, keepdim=False):
    dims = list(range(x.dim())) if dim is None else dim
    return _variance(x, dim, correction, keepdim), x.mean(dims, keepdim=keepdim) if x.dim() else x.clone()


def _std(x, dim=None, *, correction=None, keepdim=False):
    return _variance(x, dim, correction, keepdim).sqrt()


def _std_mean(x, dim=None, *, correction=None, keepdim=False):
    var, mean = _var_mean(x, dim, correction=correction, keepdim=keepdim)
    return var.sqrt(), mean


def _layer_norm(x, normalized_shape, weight, bias, eps):
    dims = list(range(x.dim() - len(normalized_shape), x.dim()))
    var, mean = _var_mean(x, dims, correction=0, keepdim=True)
    rstd = (var + eps).rsqrt()
    out = (x - mean) * rstd
    out = out * weight if weight is not None else out
    out = out + bias if bias is not None else out
    return out, mean, rstd


def _log_sigmoid(x):
    return -torch.nn.functional.softplus(-x)


OWN_DECOMPOSITIONS: dict[Any, Callable[..., Any]] = {
    aten.log_sigmoid.default: _log_sigmoid,
    aten.native_layer_norm.default: _layer_norm,
    aten.var.correction: _var,
    aten.var_mean.correction: _var_mean,
    aten.std.correction: _std,
    aten.std_mean.correction: _std_mean,
}


class MagnitudeMode(TorchDispatchMode):
    """Records a magnitude for every floating tensor computed under it (see the module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self._table = WeakTensorKeyDictionary()
        self._leaf_sizes = WeakTensorKeyDictionary()  # |t| of tensors made outside the mode, by version
        self.unsized: set[str] = set()

    def magnitude(self, t: torch.Tensor) -> torch.Tensor:
        """The magnitude recorded for ``t``; ``|t|`` for a tensor made outside the mode (a leaf)."""
        got = self._table.get(t)
        return self._leaf_size(t) if got is None or got.shape != t.shape else got

    def _leaf_size(self, t: torch.Tensor) -> torch.Tensor:
        """``|t|``, kept while ``t`` is unchanged: a decomposed backward reads the same leaves tens of times."""
        if t._is_zerotensor():  # forward mode's tangent of a constant: no storage, no version (reading it crashes)
            return torch.zeros(t.shape, dtype=t.dtype)
        version = t._version
        kept = self._leaf_sizes.get(t)
        if kept is None or kept[0] != version:
            kept = self._leaf_sizes[t] = (version, t.detach().abs())
        return kept[1]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat, spec = tree_flatten((args, kwargs))
        floats = [i for i, a in enumerate(flat) if _is_float(a)]
        # Meta tensors carry shapes, not values (forward mode sizes its zero tangents with them).
        if not floats or any(flat[i].is_meta for i in floats):
            return func(*args, **kwargs)
        packet = _rule_packet(func)
        if func in OWN_DECOMPOSITIONS:
            with self:
                return OWN_DECOMPOSITIONS[func](*args, **kwargs)
        if packet in SELECTING_WITH_INDICES or func in (aten.max.dim, aten.min.dim):
            out = func(*args, **kwargs)
            self._store_selected(func, flat, spec, out)
            return out
        if torch.Tag.pointwise in func.tags:
            mags, value = self._pointwise(func, flat, spec, floats)
            returns = func._schema.returns
            if value is not None and not func._schema.is_mutable and len(returns) == 1 and returns[0].alias_info is None:
                self._store(value, mags, rounded=not _moves_only(func))  # the op's own result, computed once
                return value
        elif func is PRIMS_WHERE:
            mags = self._call(func, [self.magnitude(a) if i in floats else _abs(a) for i, a in enumerate(flat)], spec)
        elif packet in LINEAR or packet in SELECTING:
            # SELECTING without indices (amax, max of all): the op over magnitudes bounds the selected one's.
            mags = self._call(func, [self.magnitude(a) if i in floats else a for i, a in enumerate(flat)], spec)
        elif packet in MULTILINEAR:
            mags = None
            for k in floats:
                term = _first(self._call(func, [(self.magnitude(a) if i == k else a.detach().abs()) if i in floats else _abs(a) for i, a in enumerate(flat)], spec))
                mags = term if mags is None else mags + term
        elif func in decomposition_table:
            with self:  # the decomposition's ops come back through this mode
                return decomposition_table[func](*args, **kwargs)
        else:
            out = func(*args, **kwargs)
            # A result with values to size (complex too: view_as_complex, fft), not a check such as is_same_size.
            if any(isinstance(o, torch.Tensor) and (o.is_floating_point() or o.is_complex()) for o in tree_flatten(out)[0]):
                self.unsized.add(str(func))
            return out
        out = func(*args, **kwargs)
        self._store(out, mags, rounded=not _moves_only(func))
        return out

    def _call(self, func, flat, spec):
        args, kwargs = tree_unflatten(list(flat), spec)
        return _functional(func)(*args, **kwargs)  # never writes into the caller's tensors

    def _pointwise(self, func, flat, spec, floats) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(sum over floating inputs of |d out / d input| m(input), the op's value): a formula where
        pointwise_derivatives has one, else the op differenced at two steps, the larger taken (a
        small step is noisy where the kernel cancels, a large one misses curvature)."""
        args, kwargs = tree_unflatten(list(flat), spec)
        func = _functional(func)
        given = _bind(func, args, kwargs)  # the tensors themselves: their magnitudes are keyed by them
        bound = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in given.items()}
        out = _first(_call_bound(func, bound))
        if not _is_float(out):
            return None, None
        total = None
        for name, value in given.items():
            if not _is_float(value):
                continue
            m = self.magnitude(value)
            slope = derivative(func, bound, name, out)
            # Each term is a fresh tensor, so it is finished in place: at 10^6 elements an
            # allocation costs as much as the pass over it.
            if slope is None:
                term = torch.maximum(*(self._difference(func, bound, name, m, step) for step in STEPS))
            else:
                term = (slope * m).abs_() if isinstance(slope, torch.Tensor) else abs(slope) * m
            term = torch.as_tensor(term, dtype=out.dtype).nan_to_num_(nan=0.0, posinf=0.0).expand(out.shape)
            total = term if total is None else total + term
        return total, out

    @staticmethod
    def _difference(func, bound, name: str, m: torch.Tensor, step: float) -> torch.Tensor:
        """|f(a + step m) - f(a - step m)| / (2 step): the op's response to an error m in ``name``."""
        a = bound[name]
        high = _first(_call_bound(func, {**bound, name: a + step * m}))
        low = _first(_call_bound(func, {**bound, name: a - step * m}))
        return (high - low).abs() / (2 * step)

    def _store_selected(self, func, flat, spec, out) -> None:
        """Values picked by index (sort, topk, max.dim): the magnitudes at those indices."""
        values, indices = out[0], out[1]
        x = flat[0]
        if not (_is_float(values) and _is_float(x)):
            return
        args, kwargs = tree_unflatten(list(flat), spec)
        schema = func._schema.arguments
        bound = {a.name: a.default_value for a in schema if a.has_default_value()}
        bound |= dict(zip((a.name for a in schema), args)) | kwargs
        dim = bound.get("dim", -1)
        m = self.magnitude(x)
        if m.dim() == 0:
            self._store(values, m.expand_as(values), rounded=False)
            return
        keepdim = bound.get("keepdim", False) or func.overloadpacket in (aten.sort, aten.topk, aten.cummax, aten.cummin)
        picked = m.gather(dim, indices if keepdim else indices.unsqueeze(dim))
        self._store(values, picked if keepdim else picked.squeeze(dim), rounded=False)

    def _store(self, out, mags, *, rounded: bool) -> None:
        """Record each output's magnitude; ``rounded``: plus ``|out|``, the rounding of the op's own result."""
        if mags is None:
            return
        outs, _ = tree_flatten(out)
        ms, _ = tree_flatten(mags)
        for o, m in zip(outs, ms):
            if _is_float(o) and isinstance(m, torch.Tensor) and m.shape == o.shape:
                m = m.detach().to(o.dtype)
                size = o.detach().abs()  # fresh: finished in place
                self._table[o] = size.nan_to_num_(nan=0.0, posinf=0.0).add_(m) if rounded else torch.maximum(m, size, out=size)


def _rule_packet(func):
    """The packet by which ``func``'s rule is found.  An in-place op that has neither a rule nor a
    decomposition of its own (``copy_``, met in forward mode's formulas) takes its out-of-place
    op's: the same values, written into ``self``.  Every other op keeps its own."""
    packet = func.overloadpacket
    if (
        func._schema.is_mutable
        and torch.Tag.pointwise not in func.tags
        and func not in decomposition_table
        and packet not in RULED
    ):
        return _functional(func).overloadpacket
    return packet


def _moves_only(func) -> bool:
    """Whether ``func`` only moves values (views, copies, indexing, selections): no rounding of its own."""
    packet = _rule_packet(func)
    return packet in LINEAR and packet not in SUMMING or packet in SELECTING or func is PRIMS_WHERE


def _bind(func, args, kwargs) -> dict[str, Any]:
    """The op's arguments by name (defaults left to the op)."""
    names = [a.name for a in func._schema.arguments]
    return dict(zip(names, args)) | dict(kwargs)


def _call_bound(func, bound: dict[str, Any]) -> Any:
    """``func`` on arguments by name: positional ones by position (torch 2.1's ops take no
    positional argument by keyword), keyword-only ones by keyword."""
    args, kwargs, skipped = [], {}, []
    for argument in func._schema.arguments:
        if argument.kwarg_only:
            if argument.name in bound:
                kwargs[argument.name] = bound[argument.name]
        elif argument.name in bound:
            args += [a.default_value for a in skipped] + [bound[argument.name]]  # a skipped one takes its default
            skipped = []
        else:
            skipped.append(argument)
    return func(*args, **kwargs)


def _abs(a: Any) -> Any:
    return abs(a) if isinstance(a, (int, float)) and not isinstance(a, bool) else a


@dataclasses.dataclass(frozen=True)
class PropagatedMagnitudes:
    """Forward, VJP and JVP magnitudes from running the reference under :class:`MagnitudeMode`."""

    forward: tuple[torch.Tensor, ...]
    vjp: tuple[torch.Tensor, ...]
    unsized: frozenset[str]
    jvp: tuple[torch.Tensor, ...] = ()


def propagated_magnitudes(
    reference: Callable[..., Any],
    args: Sequence[Any],
    which: Sequence[int],
    cotangents: Sequence[torch.Tensor] | None = None,
    tangents: Sequence[torch.Tensor] | None = None,
) -> PropagatedMagnitudes:
    """Magnitudes of the reference's outputs and, given ``cotangents``, of its VJP's gradients for
    ``args[which]``, and given ``tangents`` (aligned with ``which``), of its JVP's output tangents;
    computed in float64 on the CPU like the dense oracle's."""
    leaves = _leaves(args, which)
    mode = MagnitudeMode()
    with mode, torch.enable_grad():
        outs = _as_tuple(reference(*leaves))
        forward = tuple(mode.magnitude(o) if o.is_floating_point() else o.abs().to(torch.float64) for o in outs)
        vjp: tuple[torch.Tensor, ...] = ()
        if cotangents is not None:
            pairs = [(o, c.detach().to("cpu", torch.float64)) for o, c in zip(outs, cotangents) if o.requires_grad]
            inputs = [leaves[i] for i in which]
            grads = torch.autograd.grad([o for o, _ in pairs], inputs, [c for _, c in pairs], allow_unused=True) if pairs else [None] * len(inputs)
            vjp = tuple(torch.zeros_like(x) if g is None else mode.magnitude(g) for x, g in zip(inputs, grads))
    jvp: tuple[torch.Tensor, ...] = ()
    unsized = set(mode.unsized)
    if tangents is not None:
        jvp, jvp_unsized = _jvp_magnitudes(reference, args, which, tangents)
        unsized |= jvp_unsized
    return PropagatedMagnitudes(
        tuple(f.detach() for f in forward), tuple(v.detach() for v in vjp), frozenset(unsized), tuple(jvp)
    )


def _jvp_magnitudes(reference, args, which, tangents) -> tuple[tuple[torch.Tensor, ...], set[str]]:
    """The reference run again in forward mode, the tangents as dual numbers: the ops of each jvp
    formula come through the mode like any other, so an output tangent's magnitude is the running
    error bound of the JVP itself, ``|J| |v|`` plus the rounding of the values the formulas read.

    A separate run from the VJP's: forward mode through a backward graph would differentiate the
    backward too (forward over reverse), which the reference need not support."""
    leaves = _leaves(args, which)
    mode = MagnitudeMode()
    jvp = []
    with fwAD.dual_level(), torch.enable_grad():
        duals = list(leaves)
        for i, v in zip(which, tangents):
            duals[i] = fwAD.make_dual(leaves[i], v.detach().to("cpu", torch.float64))
        try:
            with mode:
                outs = _as_tuple(reference(*duals))
                for o in outs:
                    tangent = fwAD.unpack_dual(o).tangent if o.is_floating_point() else None
                    jvp.append(torch.zeros(o.shape, dtype=torch.float64) if tangent is None else mode.magnitude(tangent).detach().clone())
        except (RuntimeError, NotImplementedError) as exc:  # an op of the reference without a forward-mode formula
            return (), {f"forward mode of the reference ({type(exc).__name__}: {first_line(exc)})"}
    return tuple(jvp), set(mode.unsized)


def _leaves(args: Sequence[Any], which: Sequence[int]) -> list[Any]:
    """The arguments in float64 on the CPU, detached; those in ``which`` requiring grad."""
    return [
        a.detach().to("cpu", torch.float64 if a.is_floating_point() else a.dtype).requires_grad_(i in which)
        if isinstance(a, torch.Tensor) else a
        for i, a in enumerate(args)
    ]


def _as_tuple(outs: Any) -> tuple[Any, ...]:
    return outs if isinstance(outs, tuple) else (outs,)
