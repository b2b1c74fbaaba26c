"""Hand-written specs of ``tests/discoverable/layers.py``'s Functions, as a user writes them: the
side of ``test_bench_discover.py`` that pays no inference."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from autograd_props import FunctionSpec, dims, shapes, tensors
from tests.discoverable.layers import Linear, RMSNorm, Softmax


def _linear_args(dtype, device):
    sizes = st.tuples(shapes(max_dims=2, min_side=1), st.integers(1, 5), st.integers(1, 5))
    return sizes.flatmap(
        lambda p: st.tuples(
            tensors(dtype=dtype, device=device, shape=(*p[0], p[1])),
            tensors(dtype=dtype, device=device, shape=(p[2], p[1])),
            tensors(dtype=dtype, device=device, shape=(p[2],)),
        )
    )


def _softmax_args(dtype, device):
    return shapes().flatmap(lambda s: st.tuples(tensors(dtype=dtype, device=device, shape=s), dims(len(s))))


def _rms_norm_args(dtype, device):
    return tensors(dtype=dtype, device=device).map(lambda x: (x, 1e-6))


def _rms_norm(x, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


SPECS = [
    FunctionSpec(name="Linear", function=Linear.apply, reference=torch.nn.functional.linear, args=_linear_args),
    FunctionSpec(name="Softmax", function=Softmax.apply, reference=torch.softmax, args=_softmax_args),
    FunctionSpec(name="RMSNorm", function=RMSNorm.apply, reference=_rms_norm, args=_rms_norm_args),
]
