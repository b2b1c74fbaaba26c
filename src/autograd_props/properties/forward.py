"""Property 'forward': the Function's outputs match the reference's (values, shape, dtype, device)."""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.harness import (
    as_outputs,
    float64_args,
    with_grad,
)
from autograd_props.oracles import assert_matches_truth, jacobian_magnitudes
from autograd_props.properties.base import Property, draw_args
from autograd_props.spec import FunctionSpec


def check_forward(spec: FunctionSpec, *, args: tuple[Any, ...]) -> list[float]:
    """Run the Function as in training (inputs requiring grad) and as in inference (under
    ``torch.no_grad()``: a wrapper may go around the Function then) and compare both with the
    reference."""
    which = spec.differentiable(args)
    training = as_outputs(spec.function(*with_grad(args, which)), what=spec.name)
    with torch.no_grad():
        inference = as_outputs(spec.function(*with_grad(args, ())), what=spec.name)
        native = as_outputs(spec.reference(*args), what="reference")
        truth = as_outputs(spec.reference(*float64_args(args)), what="reference")
    sizes = jacobian_magnitudes(spec.reference, args, which)
    margins = []
    for got, mode in ((training, ""), (inference, " under torch.no_grad()")):
        if len(got) != len(native):
            raise AssertionError(f"{spec.name}{mode}: {len(got)} outputs, reference gives {len(native)}")
        for k, (g, n, t, m) in enumerate(zip(got, native, truth, sizes.forward)):
            what = f"{spec.name} forward output {k}{mode}"
            if not n.is_floating_point():
                if not torch.equal(g, n):
                    raise AssertionError(f"{what}: non-floating output differs from the reference")
                continue
            coupled = sizes.output_coupling[k] if sizes.output_coupling else None
            margins.append(assert_matches_truth(g.detach(), n, t, m, tolerance=spec.tolerance(n.dtype), what=what, coupled=coupled).margin)
    return margins


PROPERTY = Property(
    name="forward",
    summary="outputs match the reference, as in training and under torch.no_grad(): values, shape, dtype, device",
    check=check_forward,
    draw=lambda cell, data: {"args": draw_args(cell, data)},
    without_reference="the Function's own float64 output is the truth, so in float64 there is nothing to compare it with "
    "(the other dtypes are compared with it)",
    strict_first=True,
)
