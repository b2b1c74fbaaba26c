"""saved_tensor_hygiene blames ctx only for a cause it established.

An embedding whose backward adds a repeated id's rows in no fixed order (as CUDA's atomics do)
keeps nothing on ctx, yet two backward passes differ in the last bits.  Declared (nondet_ulps) it
passes; undeclared it fails as nondeterministic, not as a tensor kept on ctx; and a Function that
does keep its input on ctx is still named so.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from autograd_props import FunctionSpec, indices, tensors
from autograd_props.properties.saved_tensor_hygiene import UNCHANGED, check_saved_tensor_hygiene


class ShuffledEmbedding(torch.autograd.Function):
    """Rows of ``weight`` by ``ids``; backward adds them up in a random order, like atomics."""

    @staticmethod
    def forward(ctx, weight, ids):
        ctx.save_for_backward(ids)
        ctx.rows = weight.shape[0]
        return weight.index_select(0, ids)

    @staticmethod
    def backward(ctx, grad):
        (ids,) = ctx.saved_tensors
        order = torch.randperm(ids.numel())
        total = grad.new_zeros(ctx.rows, grad.shape[-1])
        for j in order.tolist():  # one row at a time: the order decides the rounding
            total[ids[j]] += grad[j]
        return total, None


class EmbeddingKeepsWeight(ShuffledEmbedding):
    """Deterministic, but reads a weight kept on ctx (not saved) in backward."""

    @staticmethod
    def forward(ctx, weight, ids):
        ctx.save_for_backward(ids)
        ctx.weight = weight
        return weight.index_select(0, ids) * weight.index_select(0, ids)

    @staticmethod
    def backward(ctx, grad):
        (ids,) = ctx.saved_tensors
        rows = 2 * ctx.weight.index_select(0, ids) * grad
        return torch.zeros_like(ctx.weight).index_add(0, ids, rows), None


def _spec(function, **fields) -> FunctionSpec:
    return FunctionSpec(
        name="shuffled_embedding",
        function=function,
        reference=lambda w, ids: torch.nn.functional.embedding(ids, w),
        args=lambda dtype, device: tensors(dtype=dtype, device=device, shape=(2, 3)).flatmap(
            lambda w: indices(2, device=device, shape=(8,)).map(lambda ids: (w, ids))
        ),
        dtypes=(torch.float64, torch.float32),
        **fields,
    )


# One id repeated 24 times, with rows of mixed magnitudes: adding them in another order rounds differently.
WEIGHT = torch.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
IDS = torch.zeros(24, dtype=torch.long)
COTANGENT = (torch.logspace(-4, 4, 72, dtype=torch.float32) * torch.tensor([1.0, -1.0]).repeat(36)).reshape(24, 3)


def _check(spec):
    torch.manual_seed(0)
    return check_saved_tensor_hygiene(spec, args=(WEIGHT.clone(), IDS), cotangents=(COTANGENT,))


def test_the_example_is_nondeterministic():
    runs = set()
    for seed in range(4):
        torch.manual_seed(seed)
        w = WEIGHT.clone().requires_grad_()
        (g,) = torch.autograd.grad(ShuffledEmbedding.apply(w, IDS), w, COTANGENT)
        runs.add(tuple(g.flatten().tolist()))
    assert len(runs) > 1


def test_a_declared_summation_order_passes():
    assert _check(_spec(ShuffledEmbedding.apply, nondet_ulps=32)) == UNCHANGED


def test_an_undeclared_one_is_named_nondeterministic_not_a_tensor_on_ctx():
    with pytest.raises(AssertionError, match="backward is nondeterministic") as failure:
        _check(_spec(ShuffledEmbedding.apply))
    assert "kept on ctx instead of save_for_backward" not in str(failure.value)
    assert "nondet_ulps" in str(failure.value)


def test_a_weight_kept_on_ctx_is_still_named_whatever_the_declared_order():
    spec = dataclasses.replace(_spec(EmbeddingKeepsWeight.apply, nondet_ulps=32), name="keeps_weight")
    with pytest.raises(AssertionError, match="kept on ctx instead of save_for_backward"):
        _check(spec)
