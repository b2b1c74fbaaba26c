"""Deterministic benchmark inputs for every built-in Function, one builder per spec name.

The gate draws its arguments with Hypothesis (small, adversarial tensors); benchmarks need
large, ordinary ones that are the same in every run.  Each builder takes a target element count
``numel`` and returns the positional arguments for the spec's ``function`` and ``reference``,
drawn from a seeded generator on the CPU and then moved to the device.

Shapes:

* elementwise Functions: ``x`` of shape ``(numel,)``;
* ``affine``: the seed's form, ``x`` of shape ``(numel,)`` with ``w`` and ``b`` of shape ``(1,)``
  broadcast over it (so backward reduces their gradients);
* ``logsumexp``, ``softmax``, ``softmax_temperature`` (at 0.5, by keyword), ``layernorm``: rows of at most 1024 elements, reduced (normalised)
  along the last dimension: ``(numel / cols, cols)`` with ``cols`` the largest divisor of
  ``numel`` that is at most 1024;
* ``sort``: rows as above of distinct values 0.01 apart (no near-ties), sorted along the last
  dimension; ``log1mexp``: ``x`` in (0.01, 4.01);
* ``embedding``: ``x`` is the weight table, ``(numel / width, width)`` with ``width`` the largest
  divisor of ``numel`` at most 64, looked up by as many random ids as it has rows;
* ``chunked_cross_entropy``: logits ``(numel / classes, classes)`` with ``classes`` the largest
  divisor of ``numel`` at most 64 (so a million elements span four 4,096-row chunks), and a
  random class id per row;
* ``complex_mul``, ``complex_abs``: complex ``z`` (and ``w``) of shape ``(numel,)``, passed as the
  gate passes them: real views ``(numel, 2)`` and a ``ComplexArgs`` marker (``complex_views.py``);
  float32 means complex64 there, float64 complex128;
* ``linear``: matmul-shaped, ``x`` of shape ``(numel / k, k)``, ``W`` of shape ``(k, k)`` and ``b``
  of shape ``(k,)``, with ``k`` the largest divisor of ``numel`` that is at most ``sqrt(numel)``
  (1M elements: a 1024 x 1024 by 1024 x 1024 product).

``numel`` is always the element count of the main input ``x``.  A built-in spec without a
builder is a KeyError that says where to add one, so a new Function cannot be skipped silently.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

from autograd_props import FunctionSpec, Keywords
from autograd_props.complex_views import as_real_views
from funcs import SPECS

__all__ = ["BUILDERS", "EXTRA_REFERENCES", "BenchInput", "bench_input", "builtin_specs", "largest_divisor_at_most"]

SEED = 0
ROW = 1024  # the longest row of the reduce Functions


@dataclasses.dataclass(frozen=True)
class BenchInput:
    """The arguments of one benchmark call, and a description of their shapes for reports."""

    args: tuple[Any, ...]
    numel: int  # elements of the main input x
    shape: str  # e.g. "x (1024, 1024), W (1024, 1024), b (1024,)"

    @property
    def which(self) -> tuple[int, ...]:
        """Positions of the floating-point tensors: the ones that require grad (as in the gate)."""
        return tuple(i for i, a in enumerate(self.args) if isinstance(a, torch.Tensor) and a.is_floating_point())


def largest_divisor_at_most(n: int, bound: int) -> int:
    """The largest divisor of ``n`` that is at most ``bound`` (``n >= 1``, ``bound >= 1``)."""
    if n < 1 or bound < 1:
        raise ValueError(f"largest_divisor_at_most({n}, {bound}): both must be >= 1")
    for d in range(min(n, bound), 0, -1):
        if n % d == 0:
            return d
    return 1  # unreachable: 1 divides n


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"


def _randn(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def _elementwise(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    x = _randn(g, numel)
    return (x,), f"x {_shape(x)}"


def _affine(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    w, x, b = _randn(g, 1), _randn(g, numel), _randn(g, 1)
    return (w, x, b), f"w {_shape(w)}, x {_shape(x)}, b {_shape(b)}"


def _rows(numel: int) -> tuple[int, int]:
    cols = largest_divisor_at_most(numel, ROW)
    return numel // cols, cols


def _logsumexp(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    x = _randn(g, *_rows(numel))
    return (x, -1, False), f"x {_shape(x)}, dim -1"


def _softmax(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    x = _randn(g, *_rows(numel))
    return (x, -1), f"x {_shape(x)}, dim -1"


def _softmax_temperature(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    x = _randn(g, *_rows(numel))
    return (x, Keywords(dim=-1, temperature=0.5)), f"x {_shape(x)}, dim=-1, temperature=0.5"


def _layernorm(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    rows, cols = _rows(numel)
    x, weight, bias = _randn(g, rows, cols), 1 + 0.1 * _randn(g, cols), 0.1 * _randn(g, cols)
    return (x, weight, bias, 1e-5), f"x {_shape(x)}, weight {_shape(weight)}, bias {_shape(bias)}"


def _linear(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    k = largest_divisor_at_most(numel, math.isqrt(numel))
    x = _randn(g, numel // k, k)
    weight = _randn(g, k, k) / math.sqrt(k)
    bias = _randn(g, k)
    return (x, weight, bias), f"x {_shape(x)}, W {_shape(weight)}, b {_shape(bias)}"


def _grad_reverse(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    x = _randn(g, numel)
    return (x, 0.5), f"x {_shape(x)}, alpha 0.5"


def _complex_randn(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, dtype=torch.complex128)


def _complex_elementwise(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    z = _complex_randn(g, numel)
    return (z,), f"z {_shape(z)} complex"


def _complex_pair(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    z, w = _complex_randn(g, numel), _complex_randn(g, numel)
    return (z, w), f"z {_shape(z)}, w {_shape(w)} complex"


def _positive(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    x = torch.rand(numel, generator=g, dtype=torch.float64) * 4 + 0.01  # log1mexp's domain, x > 0
    return (x,), f"x {_shape(x)} in (0.01, 4.01)"


def _sort(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    # Distinct values 0.01 apart: a near-tie is a kink, on which gradcheck's slow mode fails (at
    # 1000 normal samples two lie within its eps of 1e-6), and a benchmark times passing checks.
    x = (torch.randperm(numel, generator=g).to(torch.float64) * 0.01).reshape(_rows(numel))
    return (x, -1), f"x {_shape(x)}, a permutation of 0.01 k, dim -1"


def _embedding(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    width = largest_divisor_at_most(numel, 64)
    rows = numel // width
    weight = _randn(g, rows, width)
    ids = torch.randint(0, rows, (rows,), generator=g)  # as many lookups as rows, repeats included
    return (weight, ids), f"weight {_shape(weight)}, ids {_shape(ids)}"


def _cross_entropy(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    classes = largest_divisor_at_most(numel, 64)  # narrow rows: a million elements are 15,625 rows, 4 chunks
    logits = _randn(g, numel // classes, classes)
    target = torch.randint(0, classes, (numel // classes,), generator=g)
    return (logits, target), f"logits {_shape(logits)}, target {_shape(target)}"


def _scale_in_place(numel: int, g: torch.Generator) -> tuple[tuple[Any, ...], str]:
    x = _randn(g, numel)
    return (x, 0.5), f"x {_shape(x)}, scale 0.5"


# spec name -> builder(numel, generator) -> (float64 CPU args, shape description)
BUILDERS: dict[str, Callable[[int, torch.Generator], tuple[tuple[Any, ...], str]]] = {
    "square": _elementwise,
    "affine": _affine,
    "exp": _elementwise,
    "silu": _elementwise,
    "logsumexp": _logsumexp,
    "linear": _linear,
    "softmax": _softmax,
    "layernorm": _layernorm,
    "relu": _elementwise,
    "grad_reverse": _grad_reverse,
    "sincos": _elementwise,
    "sort": _sort,
    "embedding": _embedding,
    "scale_in_place": _scale_in_place,
    "log1mexp": _positive,
    "softmax_temperature": _softmax_temperature,
    "complex_mul": _complex_pair,
    "complex_abs": _complex_elementwise,
    "silu_op": _elementwise,
    "chunked_cross_entropy": _cross_entropy,
}

# The complex dtype with parts of each real dtype the benchmarks ask for.
_COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def _silu_composite(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


# Further native baselines, timed beside the spec's reference under their own ``impl`` name.
# SiLU: F.silu is one fused kernel that saves only x, like the custom Function; the composite
# x * sigmoid(x) is what a memory-efficient SiLU is written to beat (it saves x and sigmoid(x)).
EXTRA_REFERENCES: dict[str, dict[str, Callable[..., torch.Tensor]]] = {
    "silu": {"native-composite": _silu_composite},
}


def builtin_specs() -> tuple[FunctionSpec, ...]:
    """The built-in specs (``funcs.SPECS``); benchmarks always use these, never ``--funcs``."""
    return SPECS


def bench_input(
    spec_name: str, numel: int, *, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
) -> BenchInput:
    """Seeded arguments for ``spec_name`` with ``numel`` elements in ``x``, in dtype on device."""
    try:
        builder = BUILDERS[spec_name]
    except KeyError:
        raise KeyError(
            f"no benchmark input builder for spec {spec_name!r}: add one to BUILDERS in benchmarks/inputs.py "
            f"(known: {', '.join(sorted(BUILDERS))})"
        ) from None
    if numel < 1:
        raise ValueError(f"bench_input({spec_name!r}, {numel}): numel must be >= 1")
    generator = torch.Generator().manual_seed(SEED)
    args, shape = builder(numel, generator)
    # Floating tensors to the dtype, complex ones to the complex dtype with its parts; index
    # tensors keep theirs.  Complex arguments then cross as real views, as the gate passes them.
    def converted(a: torch.Tensor) -> torch.Tensor:
        if a.is_complex():
            return a.to(device=device, dtype=_COMPLEX_OF[dtype])
        return a.to(device=device, dtype=dtype) if a.is_floating_point() else a.to(device)

    args = as_real_views(tuple(converted(a) if isinstance(a, torch.Tensor) else a for a in args))
    return BenchInput(args=args, numel=numel, shape=shape)
