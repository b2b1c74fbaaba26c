"""Embedding: rows of a weight table looked up by an integer index tensor of any shape.

Classic style, with ``ctx.needs_input_grad``.  The ids are an integer argument: never
differentiated; backward returns None for them.  Backward adds each looked-up row's gradient
into its row of the table: an id that repeats gets the sum of its gradients.  float16/bfloat16
accumulate in float32 and round once.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from autograd_props import FunctionSpec, indices, shapes, tensors
from funcs._opmath import upcast


class Embedding(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(ids)
        ctx.num_rows = weight.shape[0]
        # index_select, not weight[ids]: a 0-d ids tensor would index like a Python int, which
        # torch.compile can only do by reading it (.item()), a graph break.
        return weight.index_select(0, ids.reshape(-1)).reshape(*ids.shape, *weight.shape[1:])

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        if not ctx.needs_input_grad[0]:
            return None, None
        (ids,) = ctx.saved_tensors
        rows = upcast(grad_output).reshape(ids.numel(), grad_output.shape[-1])
        grad_weight = rows.new_zeros(ctx.num_rows, grad_output.shape[-1])
        grad_weight = grad_weight.index_add(0, ids.reshape(-1), rows)  # repeated ids add up
        return grad_weight.to(grad_output.dtype), None


def embedding_reference(weight: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    if weight.is_cuda and weight.shape[-1] == 0:
        # torch's CUDA embedding backward on a zero-width table is an illegal memory access (seen
        # on torch 2.11, H200), which loses the process's CUDA context; index_select's backward
        # (index_add) runs there, and is the same derivative.
        return weight.index_select(0, ids.reshape(-1)).reshape(*ids.shape, 0)
    return torch.nn.functional.embedding(ids, weight)


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    rows = draw(st.integers(1, 5))
    width = draw(st.integers(0, 4))
    weight = draw(tensors(dtype=dtype, device=device, shape=(rows, width)))
    ids = draw(indices(rows, device=device, shape=shapes(max_dims=2)))
    return (weight, ids)


# On CUDA, index_add sums a repeated id's rows with atomics, in no fixed order: up to 25 ids (shapes
# of at most 5 x 5) differ by at most 24 ulps of the rows' total size between two backward passes.
SPEC = FunctionSpec(
    name="embedding", function=Embedding.apply, reference=embedding_reference, args=_args, nondet_ulps=32
)
