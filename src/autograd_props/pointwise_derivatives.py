"""|d out / d input| of common pointwise aten ops, element by element, for magnitude propagation.

Exact formulas, where :mod:`autograd_props.magnitude_propagation` would otherwise difference the
op: a difference is noise wherever the op's kernel cancels (``gelu`` far left is ``0.5 x (1 +
erf)``, known to 1e-16 of x where it is 1e-14).  Autograd cannot be called there (a dispatch mode
runs below it), so the formulas are torch's own where it has a backward op (``gelu_backward``).
An op or argument missing here is differenced by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

__all__ = ["DERIVATIVES", "derivative"]

aten = torch.ops.aten
Bound = Mapping[str, Any]
Rule = Callable[[Bound, torch.Tensor], Any]


def _one(b: Bound, out: torch.Tensor) -> float:
    return 1.0


def _alpha(b: Bound, out: torch.Tensor) -> float:
    return abs(b.get("alpha", 1))


def _ones_like(b: Bound) -> torch.Tensor:
    return torch.ones_like(b["self"])


def _selected(name: str) -> Rule:
    """1 where the output is this argument's value (max, min, clamp), else 0."""
    return lambda b, out: (out == b[name]).to(out.dtype)


DERIVATIVES: dict[Any, dict[str, Rule]] = {
    aten.add: {"self": _one, "other": _alpha},
    aten.sub: {"self": _one, "other": _alpha},
    aten.rsub: {"self": _alpha, "other": _one},
    aten.mul: {"self": lambda b, o: b["other"].abs() if isinstance(b["other"], torch.Tensor) else abs(b["other"]),
               "other": lambda b, o: b["self"].abs()},
    aten.neg: {"self": _one},
    aten.abs: {"self": _one},
    aten.exp: {"self": lambda b, o: o.abs()},
    aten.expm1: {"self": lambda b, o: (o + 1).abs()},
    aten.log: {"self": lambda b, o: 1 / b["self"].abs()},
    aten.log1p: {"self": lambda b, o: 1 / (1 + b["self"]).abs()},
    aten.log2: {"self": lambda b, o: 1 / (b["self"].abs() * math.log(2))},
    aten.log10: {"self": lambda b, o: 1 / (b["self"].abs() * math.log(10))},
    aten.sqrt: {"self": lambda b, o: 0.5 / o.abs()},
    aten.rsqrt: {"self": lambda b, o: 0.5 * o.abs() ** 3},
    aten.reciprocal: {"self": lambda b, o: o * o},
    aten.sin: {"self": lambda b, o: b["self"].cos().abs()},
    aten.cos: {"self": lambda b, o: b["self"].sin().abs()},
    aten.tanh: {"self": lambda b, o: (1 - o * o).abs()},
    aten.sigmoid: {"self": lambda b, o: (o * (1 - o)).abs()},
    aten.erf: {"self": lambda b, o: 2 / math.sqrt(math.pi) * torch.exp(-b["self"] * b["self"])},
    aten.erfc: {"self": lambda b, o: 2 / math.sqrt(math.pi) * torch.exp(-b["self"] * b["self"])},
    aten.square: {"self": lambda b, o: 2 * b["self"].abs()},
    aten.relu: {"self": lambda b, o: (b["self"] > 0).to(o.dtype)},
    aten.gelu: {"self": lambda b, o: aten.gelu_backward(_ones_like(b), b["self"], approximate=b.get("approximate", "none")).abs()},
    aten.silu: {"self": lambda b, o: aten.silu_backward(_ones_like(b), b["self"]).abs()},
    aten.softplus: {"self": lambda b, o: aten.softplus_backward(_ones_like(b), b["self"], b.get("beta", 1), b.get("threshold", 20)).abs()},
    aten.where: {"self": lambda b, o: b["condition"].to(o.dtype), "other": lambda b, o: (~b["condition"]).to(o.dtype)},
    aten.maximum: {"self": _selected("self"), "other": _selected("other")},
    aten.minimum: {"self": _selected("self"), "other": _selected("other")},
    aten.clamp: {"self": _selected("self")},
    aten.clamp_min: {"self": _selected("self")},
    aten.clamp_max: {"self": _selected("self")},
    aten.sigmoid_backward: {"grad_output": lambda b, o: (b["output"] * (1 - b["output"])).abs(),
                            "output": lambda b, o: (b["grad_output"] * (1 - 2 * b["output"])).abs()},
    aten.tanh_backward: {"grad_output": lambda b, o: (1 - b["output"] * b["output"]).abs(),
                         "output": lambda b, o: (2 * b["grad_output"] * b["output"]).abs()},
    aten.threshold_backward: {"grad_output": lambda b, o: (b["self"] > b["threshold"]).to(o.dtype), "self": lambda b, o: 0.0},
}


def derivative(func, bound: Bound, name: str, out: torch.Tensor) -> torch.Tensor | float | None:
    """|d out / d bound[name]| for ``func`` (an OpOverload) at the bound arguments, or None when
    this module has no formula for it (the caller differences the op instead)."""
    if func.overloadpacket is aten.div:
        if bound.get("rounding_mode") is not None:
            return 0.0  # floor or trunc division: piecewise constant
        other = bound["other"]
        if name == "self":
            return 1 / other.abs() if isinstance(other, torch.Tensor) else 1 / abs(other)
        return bound["self"].abs() / (other * other)
    if func.overloadpacket is aten.pow:
        base, exponent = bound["self"], bound["exponent"]
        if name == "self":
            return (exponent * base ** (exponent - 1)).abs() if isinstance(base, torch.Tensor) else None
        return (out * torch.log(torch.as_tensor(base, dtype=out.dtype).abs())).abs()
    rules = DERIVATIVES.get(func.overloadpacket)
    rule = None if rules is None else rules.get(name)
    return None if rule is None else rule(bound, out)
