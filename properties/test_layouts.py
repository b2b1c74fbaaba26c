"""Property 'layouts': memory layout does not change results.

Each floating input is given a different layout built from the same leaf (transposed strides,
a step-sliced view, a storage offset, channels_last for 4-d, and an expanded stride-0 view), and
the Function's outputs and gradients with respect to the leaf must equal those of the same input
made contiguous.  Cotangents are likewise passed non-contiguous or expanded.  This catches
kernels that read ``.data_ptr()`` as if contiguous and backwards that ``.view`` a grad_output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from hypothesis import given
from hypothesis import strategies as st

from funcs.spec import FunctionSpec
from properties.case import autograd_property, draw_args, draw_cotangents
from properties.harness import as_outputs, differentiable_indices
from properties.oracles import assert_same_result, jacobian_magnitudes


def transposed(x: torch.Tensor) -> torch.Tensor:
    return x.mT.contiguous().mT if x.dim() >= 2 else x


def step_sliced(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 0:
        return x
    buffer = x.new_zeros(*x.shape[:-1], 2 * x.shape[-1])
    buffer = buffer.index_copy(-1, torch.arange(0, 2 * x.shape[-1], 2, device=x.device), x)
    return buffer[..., ::2]


def storage_offset(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x.new_zeros(3), x.reshape(-1)])[3:].view(x.shape)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def expanded(x: torch.Tensor) -> torch.Tensor:
    """Not value-preserving: the first element along the last dim, broadcast (stride 0)."""
    return x[..., :1].expand(x.shape) if x.dim() >= 1 and x.shape[-1] > 0 else x


LAYOUTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "transposed": transposed,
    "step_sliced": step_sliced,
    "storage_offset": storage_offset,
    "channels_last": channels_last,
    "expanded": expanded,
}


def _run(fn, args, which, transform, cotangents):
    """Outputs and gradients w.r.t. the leaves, with each input passed as ``transform(leaf)``."""
    leaves = [a.detach().clone().requires_grad_(True) if i in which else a for i, a in enumerate(args)]
    inputs = [transform(leaf) if i in which else leaf for i, leaf in enumerate(leaves)]
    outs = as_outputs(fn(*inputs))
    pairs = [(o, c) for o, c in zip(outs, cotangents) if o.requires_grad]
    grads: tuple = ()
    if pairs:
        grads = torch.autograd.grad([o for o, _ in pairs], [leaves[i] for i in which], [c for _, c in pairs], allow_unused=True)
    grads = tuple(torch.zeros_like(leaves[i]) if g is None else g for i, g in zip(which, grads))
    return tuple(o.detach() for o in outs), grads, inputs


def check_layouts(
    spec: FunctionSpec,
    *,
    args: tuple[Any, ...],
    cotangents: tuple[torch.Tensor, ...],
    layout: str,
    cotangent_layout: str,
) -> list[float]:
    which = differentiable_indices(args)
    transform = LAYOUTS[layout]
    cot_transform = LAYOUTS[cotangent_layout]
    strided_cots = tuple(cot_transform(c) for c in cotangents)
    dense_cots = tuple(c.contiguous() for c in strided_cots)
    got_out, got_grads, inputs = _run(spec.function, args, which, transform, strided_cots)
    exp_out, exp_grads, _ = _run(spec.function, args, which, lambda x: transform(x).contiguous(), dense_cots)
    values = tuple(i.detach() if isinstance(i, torch.Tensor) else i for i in inputs)
    magnitudes = jacobian_magnitudes(spec.reference, values, which, dense_cots)
    margins = []
    for k, (g, e, m) in enumerate(zip(got_out, exp_out, magnitudes.forward)):
        margins.append(
            assert_same_result(g, e, m, tolerance=spec.tolerance(e.dtype), what=f"{spec.name} output {k} with {layout} inputs").margin
        )
    # The gradient reaches the leaf through the layout op; its magnitude is the VJP's, summed
    # over the elements an expanded view broadcasts.
    for i, g, e, m in zip(which, got_grads, exp_grads, magnitudes.vjp):
        scale = m.sum(-1, keepdim=True).expand(m.shape) if layout == "expanded" and m.dim() else m
        margins.append(
            assert_same_result(
                g, e, scale, tolerance=spec.tolerance(e.dtype),
                what=f"{spec.name} gradient of argument {i} with {layout} inputs and {cotangent_layout} grad_outputs",
            ).margin
        )
    return margins


@autograd_property("layouts")
@given(data=st.data())
def test_layouts(case, data):
    args = draw_args(case, data)
    cotangents = draw_cotangents(case, data, args)
    layout = data.draw(st.sampled_from(sorted(LAYOUTS)), label="layout")
    cotangent_layout = data.draw(st.sampled_from(sorted(LAYOUTS)), label="cotangent_layout")
    with case.reproduce(
        "properties.test_layouts:check_layouts", args=args, cotangents=cotangents, layout=layout, cotangent_layout=cotangent_layout
    ):
        margins = check_layouts(case.spec, args=args, cotangents=cotangents, layout=layout, cotangent_layout=cotangent_layout)
    case.note(f"inputs {layout}, grad_outputs {cotangent_layout}")
    case.record(*margins)
