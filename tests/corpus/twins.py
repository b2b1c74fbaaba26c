"""The correct Functions the planted bugs are derived from: each mutant differs from one of these
by its bug alone, and each of these must pass the gate.

``pytest properties --funcs tests.corpus.twins`` runs the gate on all of them.
"""

from __future__ import annotations

import dataclasses

import torch

from autograd_props import FunctionSpec
from funcs import (
    affine,
    chunked_cross_entropy,
    complex_abs,
    complex_mul,
    embedding,
    exp,
    layernorm,
    linear,
    log1mexp,
    logsumexp,
    relu,
    scale_in_place,
    silu_op,
    sincos,
    softmax,
    softmax_temperature,
    sort,
    square,
)
from tests.corpus import real_style_twins
from tests.corpus.planted_hygiene_bugs import AffineNondeterministic
from tests.corpus.softplus_correct import SPECS as SOFTPLUS_SPECS

SOFTPLUS = SOFTPLUS_SPECS[0]


def _square_linear_args(dtype: torch.dtype, device: torch.device):
    """Linear's arguments cut to in_features == out_features, where a transposed weight still fits."""

    def cut(args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        x, weight, bias = args
        n = min(weight.shape)
        return x[..., :n].contiguous(), weight[:n, :n].contiguous(), bias[:n].contiguous()

    return linear.SPEC.args(dtype, device).map(cut)


LINEAR_SQUARE = dataclasses.replace(linear.SPEC, name="linear_square", args=_square_linear_args)

# The nondeterministic affine, declared so: summing up to 125 terms (shapes of at most 5 x 5 x 5)
# in two orders differs by at most 124 ulps of the terms' total size.
AFFINE_NONDETERMINISTIC = dataclasses.replace(
    affine.SPEC, name="affine_nondeterministic", function=AffineNondeterministic.apply,
    function_class=AffineNondeterministic, nondet_ulps=128,
    opt_outs={
        "extreme_values": "its random-order sum accumulates in the dtype: in float16, beyond sqrt(max), a partial sum "
        "overflows where native's float32 accumulation does not (soak seed 1248652405)",
    },
)

TWINS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        square.SPEC,
        affine.SPEC,
        exp.SPEC,
        SOFTPLUS,
        logsumexp.SPEC,
        LINEAR_SQUARE,
        softmax.SPEC,
        layernorm.SPEC,
        relu.SPEC,
        sincos.SPEC,
        sort.SPEC,
        embedding.SPEC,
        scale_in_place.SPEC,
        log1mexp.SPEC,
        softmax_temperature.SPEC,
        *((silu_op.SPEC,) if silu_op.SPEC is not None else ()),  # torch 2.4+
        complex_mul.SPEC,
        complex_abs.SPEC,
        AFFINE_NONDETERMINISTIC,
        chunked_cross_entropy.SPEC,
        *real_style_twins.SPECS,
    )
}
SPECS = list(TWINS.values())
