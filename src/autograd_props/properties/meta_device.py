"""Property 'meta_device': shape propagation without values.

On ``meta`` tensors the Function must give the reference's output shapes and dtypes, and its
backward gradients with its inputs' shapes and dtypes.  Running on meta is not something a plain
autograd Function claims: one that raises there (it reads values with ``.item()``, goes through
NumPy, or calls an op without a meta kernel) is "not claimed", as for vmap; one that runs must
give the right shapes and dtypes.  A custom op with a fake implementation (``register_fake``)
claims it, so raising there fails; and, as ``torch.library.opcheck`` requires of a fake
implementation, its outputs' strides must be the real outputs' strides, with the arguments as drawn and transposed.
"""

from __future__ import annotations

from typing import Any

import torch

from autograd_props.custom_op import has_fake
from autograd_props.harness import as_outputs, vjp
from autograd_props.properties.base import Property, draw_args_and_cotangents
from autograd_props.properties.layouts import transposed
from autograd_props.results import NOT_CLAIMED, Verdict
from autograd_props.spec import FunctionSpec


def _meta(values):
    return tuple(v.to("meta") if isinstance(v, torch.Tensor) else v for v in values)


def check_meta_device(spec: FunctionSpec, *, args: tuple[Any, ...], cotangents: tuple[torch.Tensor, ...]) -> Verdict | list[float]:
    which = spec.differentiable(args)
    meta_args, meta_cots = _meta(args), _meta(cotangents)
    try:
        ref = as_outputs(spec.reference(*meta_args), what="reference")
    except Exception as exc:  # nothing to compare with
        return Verdict(notes=(f"the reference does not run on meta ({type(exc).__name__}): nothing to compare",))
    try:
        outs, grads = vjp(spec.function, meta_args, which, meta_cots, what=spec.name)
    except Exception as exc:
        if spec.custom_op is not None and has_fake(spec.custom_op):
            raise AssertionError(f"{spec.name}: {spec.function_label} registers a fake implementation, yet fails on meta tensors: {exc}") from exc
        return Verdict(notes=(f"{NOT_CLAIMED}: the Function does not run on meta tensors ({type(exc).__name__})",))
    if spec.custom_op is not None:
        _check_strides(spec, args)
    for k, (o, r) in enumerate(zip(outs, ref)):
        if o.device.type != "meta" or o.shape != r.shape or o.dtype != r.dtype:
            raise AssertionError(
                f"{spec.name} output {k} on meta: {tuple(o.shape)} {o.dtype} on {o.device}; reference gives {tuple(r.shape)} {r.dtype}"
            )
    if len(outs) != len(ref):
        raise AssertionError(f"{spec.name}: {len(outs)} outputs on meta, reference gives {len(ref)}")
    for i, g in zip(which, grads):
        x = meta_args[i]
        if g.device.type != "meta" or g.shape != x.shape or g.dtype != x.dtype:
            raise AssertionError(f"{spec.name} gradient of argument {i} on meta: {tuple(g.shape)} {g.dtype}; input is {tuple(x.shape)} {x.dtype}")
    return []


def _check_strides(spec: FunctionSpec, args: tuple[Any, ...]) -> None:
    """A custom op's fake outputs have its real outputs' strides (what compiled code relies on),
    for the drawn arguments and for them transposed, where a kernel's layout shows."""
    variants = {"": args}
    if any(isinstance(a, torch.Tensor) and a.is_floating_point() and a.dim() >= 2 for a in args):
        variants[" (floating arguments transposed)"] = tuple(
            transposed(a) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args
        )
    for label, variant in variants.items():
        with torch.no_grad():
            real = as_outputs(spec.function(*variant), what=spec.name)
            fake = as_outputs(spec.function(*_meta(variant)), what=spec.name)
        for k, (f, r) in enumerate(zip(fake, real)):
            if f.shape != r.shape:
                raise AssertionError(f"{spec.name} output {k}{label}: the fake implementation gives shape {tuple(f.shape)}, the real kernel {tuple(r.shape)}")
            # Strides of a size-1 dimension carry no layout, and an empty tensor has none.
            dims = [d for d in range(r.dim()) if r.shape[d] > 1]
            if r.numel() and [f.stride(d) for d in dims] != [r.stride(d) for d in dims]:
                raise AssertionError(
                    f"{spec.name} output {k}{label}: the fake implementation gives strides {f.stride()}, the real kernel "
                    f"{r.stride()} (shape {tuple(r.shape)})"
                )


PROPERTY = Property(
    name="meta_device",
    summary="on meta tensors, output and gradient shapes and dtypes match the reference's (and, for a custom op, "
    "its real strides)",
    check=check_meta_device,
    draw=draw_args_and_cotangents,
)
