"""This repository's custom Functions under test, one file each with its spec, written against the
public API exactly as a user writes theirs; ``fit.py`` is the seed article's regression example.

``SPECS`` is the built-in set: ``python -m autograd_props`` (in this checkout) and
``properties/test_gate.py`` check it.
"""

from __future__ import annotations

from funcs import (
    affine,
    chunked_cross_entropy,
    complex_abs,
    complex_mul,
    embedding,
    exp,
    grad_reverse,
    layernorm,
    linear,
    log1mexp,
    logsumexp,
    relu,
    scale_in_place,
    silu,
    silu_op,
    sincos,
    softmax,
    softmax_temperature,
    sort,
    square,
)

__all__ = ["SPECS"]

SPECS = (
    square.SPEC,
    affine.SPEC,
    exp.SPEC,
    silu.SPEC,
    logsumexp.SPEC,
    linear.SPEC,
    softmax.SPEC,
    layernorm.SPEC,
    relu.SPEC,
    grad_reverse.SPEC,
    sincos.SPEC,
    sort.SPEC,
    embedding.SPEC,
    scale_in_place.SPEC,
    log1mexp.SPEC,
    softmax_temperature.SPEC,
    chunked_cross_entropy.SPEC,
    complex_mul.SPEC,
    complex_abs.SPEC,
    # torch 2.4+ (funcs/silu_op.py warns where it is left out)
    *((silu_op.SPEC,) if silu_op.SPEC is not None else ()),
)
