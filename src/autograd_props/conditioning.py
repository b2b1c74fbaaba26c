"""How far a gradient moves when the inputs it is computed from move by their last bits.

The native oracle allows the rounding of a sum, ``ROUNDING_ULPS eps`` times the size of its terms
(``oracles.Magnitudes``).  A forward value's size includes ``|J| |x|``: its response to moving
every input by a relative ``eps``, the error of any computation that rounds what it derives from
its inputs (a mean, a difference) once.  A gradient ``g = J(x)^T u`` is computed from the same
derived values, and the terms of ``|J|^T |u|`` leave their rounding out: a layer norm's weight
gradient is ``u x_hat``, and on the float32 row (8.0, 7.9946) x_hat = (x - mean) rstd has rstd 240,
so a mean rounded by a quarter of an ulp of 8 moves it by 5.7e-5, 1.1e-4 of its size.  Native
rounded its mean better there by luck (2.5e-5); over nearby rows neither is better.

``sum_j |d g_i / d x_j| |x_j|``, the gradient's own ``|J| |x|``, is computed from the float64
reference's second derivatives (the Jacobian of its VJP), which see no jump at a kink or a tie,
only the smooth change of the gradient.  Dense, so only while numel_in^2 is at most
``DENSE_JACOBIAN_LIMIT``; beyond it, and for a reference without second derivatives, None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from autograd_props.harness import as_outputs, float64_cpu_args
from autograd_props.oracles import DENSE_JACOBIAN_LIMIT


def gradient_conditioning(
    reference: Callable[..., Any], args: Sequence[Any], which: Sequence[int], cotangents: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, ...] | None:
    """Per differentiable argument, ``sum_j |d (J^T u)_i / d x_j| |x_j|`` over every
    differentiable argument's elements, in float64 on the CPU, or None where not computed."""
    args64 = float64_cpu_args(args)
    inputs = tuple(args64[i] for i in which)
    if not inputs or not all(x.numel() for x in inputs) or sum(x.numel() for x in inputs) ** 2 > DENSE_JACOBIAN_LIMIT:
        return None
    u = tuple(c.detach().to("cpu", torch.float64) for c in cotangents)

    def gradient(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        full = list(args64)
        for i, x in zip(which, xs):
            full[i] = x
        outs = as_outputs(reference(*full), what="reference")
        pairs = [(o, c) for o, c in zip(outs, u) if o.requires_grad and o.is_floating_point()]
        if not pairs:
            return tuple(torch.zeros_like(x) for x in xs)
        grads = torch.autograd.grad([o for o, _ in pairs], xs, [c for _, c in pairs], create_graph=True, allow_unused=True)
        return tuple(torch.zeros_like(x) if g is None else g for g, x in zip(grads, xs))

    try:
        with torch.enable_grad():
            try:
                second = torch.autograd.functional.jacobian(gradient, inputs, vectorize=True, strategy="reverse-mode")
            except RuntimeError:  # a reference vmap cannot batch
                second = torch.autograd.functional.jacobian(gradient, inputs)
    except RuntimeError:  # no second derivative
        return None
    result = []
    for k, x in enumerate(inputs):
        total = torch.zeros(x.numel(), dtype=torch.float64)
        for j, xj in enumerate(inputs):
            total += second[k][j].reshape(x.numel(), xj.numel()).abs() @ xj.reshape(-1).abs()
        result.append(total.reshape(x.shape))
    return tuple(result)
