"""Writing discovered specs as a spec module a user can read, edit and commit.

One ``FunctionSpec`` per Function, its arguments spelled out with the public strategy functions
(the very source the discovered spec runs), its reference ``forward_reference(TheFunction)`` or
None with the reason, and the reading of a gradient failure as a comment.  The gate over the
written module checks the same cells as over ``discover:TARGET``.
"""

from __future__ import annotations

from collections.abc import Sequence

from autograd_props._discover.arguments import STRATEGY_NAMES

__all__ = ["spec_module"]


def _dtypes(dtypes: Sequence) -> str:
    return "(" + ", ".join(str(d) for d in dtypes) + ("," if len(dtypes) == 1 else "") + ")"


def spec_module(discovery) -> str:
    """The text of a spec module for ``discovery`` (an :class:`autograd_props.discovery.Discovery`)."""
    from autograd_props.discovery import SURROGATE_HINT

    lines = [
        f'"""Specs inferred by ``autograd-props discover {discovery.target}``: edit them freely.',
        "",
        "Run the gate over this module with ``python -m autograd_props MODULE`` (this file's module name).",
        '"""',
        "",
        "import torch",
        "from hypothesis import strategies as st",
        "",
        f"from autograd_props import FunctionSpec, {', '.join(STRATEGY_NAMES)}",
        "from autograd_props.discovery import forward_reference",
    ]
    for how in discovery.inferred:
        found = how.found
        name = discovery[discovery.inferred.index(how)].name
        if "[" in found.attr:  # an op held in a registry of the module
            lines += [f"import {found.module}", f"{name} = {found.module}.{found.attr}"]
            continue
        alias = f" as {name}" if found.attr != name else ""
        lines.append(f"from {found.module} import {found.attr}{alias}")
    for missing in discovery.not_inferred:
        lines.append(f"# not inferred: {missing}")
    specs = []
    for spec, how in zip(discovery, discovery.inferred):
        lines += ["", "", how.plan.source.rstrip()]
        subject = spec.name
        function = f"{subject}.apply" if how.found.kind == "function" else subject
        reference = "None" if how.reference_note else f"forward_reference({subject})"
        entry = [
            "    FunctionSpec(",
            f"        name={spec.name!r},",
            f"        function={function},",
        ]
        entry.append(f"        # no native reference: {how.reference_note}" if how.reference_note else "        # the forward run outside the Function, differentiated by native autograd")
        entry += [f"        reference={reference},", f"        args={how.plan.function_name},"]
        entry.append(f"        dtypes={_dtypes(spec.dtypes)},")
        if spec.non_differentiable:
            entry.append(f"        non_differentiable={tuple(spec.non_differentiable)!r},")
        entry.append(f"        kinks={spec.kinks!r},  # at a kink, either one-sided derivative: the forward's side there is autograd's")
        entry.append(f"        # if vjp_native or vjp_finite_differences fails: {SURROGATE_HINT}")
        entry.append("    ),")
        specs += entry
    lines += ["", "", "SPECS = [", *specs, "]", ""]
    return "\n".join(lines)
