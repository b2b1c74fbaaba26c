"""ChunkedCrossEntropy(logits, target): the mean cross-entropy of the rows of ``logits`` (N, C)
against integer class ids ``target`` (N,), computed CHUNK_ROWS rows at a time.

This is the fused-loss pattern of memory-saving trainers (a vocabulary-sized softmax is never
held whole in float32): forward computes each chunk's loss and, while the chunk is at hand, its
gradient ``(softmax(row) - onehot(target)) / N``, and saves only that gradient; backward scales
it by ``grad_output``.  The saved gradient is computed without a graph, so backward is
``once_differentiable``: double backward raises rather than silently missing the softmax's
second derivative.

A chunked Function is only wrong, if at all, past a chunk boundary: at N > CHUNK_ROWS rows, with
a last chunk shorter than the others.  The spec declares the chunk size (``chunk_sizes``) so that
the large-size strategies draw the row counts around it.  float16/bfloat16 compute each chunk in
float32 and round the gradient once.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st
from torch.autograd.function import once_differentiable

from autograd_props import FunctionSpec, indices, shapes, tensors
from funcs._opmath import upcast

CHUNK_ROWS = 4096


def chunk_starts(rows: int) -> range:
    """The first row of every chunk, the last one partial when CHUNK_ROWS does not divide rows."""
    return range(0, rows, CHUNK_ROWS)


def loss_and_gradient(logits: torch.Tensor, target: torch.Tensor, starts: range) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean loss and its gradient, one chunk of rows from each of ``starts`` at a time."""
    rows = logits.shape[0]
    total = upcast(logits.new_zeros(()))
    grad = torch.zeros_like(logits)
    for start in starts:
        chunk = upcast(logits[start : start + CHUNK_ROWS])
        ids = target[start : start + CHUNK_ROWS, None]
        log_probs = torch.log_softmax(chunk, dim=1)
        total = total - log_probs.gather(1, ids).sum()
        chunk_grad = log_probs.exp().scatter_add(1, ids, torch.full_like(ids, -1, dtype=chunk.dtype))
        grad[start : start + CHUNK_ROWS] = chunk_grad / rows
    return (total / rows).to(logits.dtype), grad


class ChunkedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss, grad = loss_and_gradient(logits, target, chunk_starts(logits.shape[0]))
        ctx.save_for_backward(grad)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None


def chunked_cross_entropy_reference(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits, target)


@st.composite
def _args(draw, dtype: torch.dtype, device: torch.device):
    rows, classes = draw(shapes(min_dims=2, max_dims=2, min_side=1))
    logits = draw(tensors(dtype=dtype, device=device, shape=(rows, classes)))
    target = draw(indices(classes, device=device, shape=(rows,)))
    return (logits, target)


SPEC = FunctionSpec(
    name="chunked_cross_entropy",
    function=ChunkedCrossEntropy.apply,
    reference=chunked_cross_entropy_reference,
    args=_args,
    sizes="large",
    chunk_sizes=(CHUNK_ROWS,),
)
