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
from hypothesis import strategies as st

from autograd_props.cell import Cell
from autograd_props.harness import (
    as_outputs,
    grads_of,
    zeros_where_none,
)
from autograd_props.messages import first_line
from autograd_props.oracles import assert_same_result, jacobian_magnitudes
from autograd_props.properties.base import Property, draw_args, draw_cotangents
from autograd_props.results import Verdict
from autograd_props.spec import FunctionSpec


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
    differentiated = [leaves[i] for i in which]
    grads = zeros_where_none(grads_of(outs, differentiated, cotangents), differentiated)
    return tuple(o.detach() for o in outs), grads, inputs


def check_layouts(
    spec: FunctionSpec,
    *,
    args: tuple[Any, ...],
    cotangents: tuple[torch.Tensor, ...],
    layout: str,
    cotangent_layout: str,
) -> Verdict | list[float]:
    which = spec.differentiable(args)
    transform = LAYOUTS[layout]
    cot_transform = LAYOUTS[cotangent_layout]
    strided_cots = tuple(cot_transform(c) for c in cotangents)
    dense_cots = tuple(c.contiguous() for c in strided_cots)
    try:
        got_out, got_grads, inputs = _run(spec.function, args, which, transform, strided_cots)
    except Exception as exc:
        refusal = _reference_refuses_too(spec, args, which, transform, strided_cots, exc)
        if refusal is None:
            raise
        return Verdict(notes=(f"{layout} inputs and {cotangent_layout} grad_outputs: {refusal}",))
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


def _reference_refuses_too(spec: FunctionSpec, args, which, transform, cotangents, exc: Exception) -> str | None:
    """Why the Function raising on this layout is no finding, or None when it is one: the native
    reference raises the same kind of error on the very same inputs (``view_as_complex`` wants a
    last stride of 1), so the Function keeps the op's own restriction.  Never for a spec without a
    native reference: there the reference is the Function itself."""
    if not spec.has_reference:
        return None
    # The reference must take the same values in a fresh dense tensor (``contiguous()`` keeps a
    # storage offset, and a zero-size tensor's strides): then it is the layout it refuses.
    fresh = lambda x: x.clone(memory_format=torch.contiguous_format)  # noqa: E731
    try:
        _run(spec.reference, args, which, lambda x: fresh(transform(x)), tuple(fresh(c) for c in cotangents))
    except Exception:  # noqa: BLE001 -- then its refusal says nothing about the layout
        return None
    try:
        _run(spec.reference, args, which, transform, cotangents)
    except type(exc) as same:
        return f"the Function raises, and so does the reference ({type(same).__name__}: {first_line(same)}): the op's restriction, not the Function's"
    except Exception:  # noqa: BLE001 -- another error: the Function's is its own
        return None
    return None


def _draw(cell: Cell, data: st.DataObject) -> dict[str, Any]:
    args = draw_args(cell, data)
    return {
        "args": args,
        "cotangents": draw_cotangents(cell, data, args),
        "layout": data.draw(st.sampled_from(sorted(LAYOUTS)), label="layout"),
        "cotangent_layout": data.draw(st.sampled_from(sorted(LAYOUTS)), label="cotangent_layout"),
    }


PROPERTY = Property(
    name="layouts",
    summary="transposed, step-sliced, storage-offset, channels_last and expanded (stride-0) inputs and "
    "grad_outputs give the results of contiguous copies",
    check=check_layouts,
    draw=_draw,
)
