"""torch.autograd.gradcheck, the anchor the gate is compared with: each of its modes run on fixed
random float64 inputs of a spec, as a careful user would run it by hand.

Modes: ``slow`` (gradcheck's default, the full numerical Jacobian), ``fast`` (``fast_mode=True``,
one random projection), and ``strongest``: gradcheck with ``check_forward_ad`` where the
Function has a ``jvp``, ``check_batched_grad``, then ``gradgradcheck`` with its batched check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from autograd_props import FunctionSpec, Keywords

MODES = ("slow", "fast", "strongest")


def _randn(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def _crandn(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, dtype=torch.complex128)


# Arguments per Function (by spec name), broadcast and batched so that reductions matter.
def _reverse_sort_inputs(generator: torch.Generator) -> tuple[Any, ...]:
    """Vectors (1, 2, 4, 3) and logits (1, 2, 4), sort indices of random keys and their inverse."""
    sorted_idx = torch.argsort(torch.rand(1, 2, 4, generator=generator), dim=-1)
    return (_randn(generator, 1, 2, 4, 3), _randn(generator, 1, 2, 4), sorted_idx, torch.argsort(sorted_idx, dim=-1))


_INPUTS: dict[str, Callable[[torch.Generator], tuple[Any, ...]]] = {
    "square": lambda g: (_randn(g, 3, 4),),
    "exp": lambda g: (_randn(g, 3, 4),),
    "softplus": lambda g: (_randn(g, 3, 4),),
    "relu": lambda g: (_randn(g, 3, 4),),
    "affine": lambda g: (_randn(g, 4), _randn(g, 3, 4), _randn(g, 1, 4)),
    "logsumexp": lambda g: (_randn(g, 3, 4), 1, False),
    "softmax": lambda g: (_randn(g, 3, 4), 0),
    "linear_square": lambda g: (_randn(g, 2, 3), _randn(g, 3, 3), _randn(g, 3)),
    "layernorm": lambda g: (_randn(g, 3, 4), _randn(g, 4), _randn(g, 4), 1e-5),
    # kinds of Function: two outputs, integer output, index argument (a repeated id), in place
    "sincos": lambda g: (_randn(g, 3, 4),),
    "sort": lambda g: (_randn(g, 3, 4), 1),
    "embedding": lambda g: (_randn(g, 4, 3), torch.tensor([[0, 2], [0, 1]])),
    "broadcast_mul": lambda g: (_randn(g, 3, 1), _randn(g, 4)),
    # the sizes a gradcheck user picks: a full Jacobian of 4,097 rows is slow mode's 12,000 passes
    "chunked_cross_entropy": lambda g: (_randn(g, 3, 4), torch.tensor([0, 3, 1])),
    "scale_in_place": lambda g: (_randn(g, 3, 4), 0.7),
    "log1mexp": lambda g: (torch.rand(3, 4, generator=g, dtype=torch.float64) * 3 + 0.05,),  # x > 0, around log 2
    "softmax_temperature": lambda g: (_randn(g, 3, 4), Keywords(dim=0, temperature=0.5)),
    "silu_op": lambda g: (_randn(g, 3, 4),),  # a torch.library custom op
    # complex: broadcast so that the reduction matters; complex128
    "complex_mul": lambda g: (_crandn(g, 3, 4), _crandn(g, 1, 4)),
    "complex_abs": lambda g: (_crandn(g, 3, 4),),
    "affine_nondeterministic": lambda g: (_randn(g, 4), _randn(g, 3, 4), _randn(g, 1, 4)),
    # the twins in other people's styles (tests/corpus/real_style_twins.py)
    "classic_softplus": lambda g: (_randn(g, 3, 4),),
    "reverse_layer_view": lambda g: (_randn(g, 3, 4), 0.7),
    "softplus_where_reference": lambda g: (_randn(g, 3, 4),),
    "multi_margin_loss": lambda g: (_randn(g, 3, 4), torch.randint(0, 4, (3,), generator=g)),
    "layer_norm_float32": lambda g: (_randn(g, 3, 4), _randn(g, 4), _randn(g, 4), 1e-5),
    "max_last_dim": lambda g: (_randn(g, 3, 4),),
    "squared_relu_saves_output": lambda g: (_randn(g, 3, 4),),
    "sum_of_squares": lambda g: (_randn(g, 3, 4),),
    "gelu_own_rounding": lambda g: (_randn(g, 3, 4),),
    "bce_with_logits": lambda g: (_randn(g, 3, 4), torch.rand(3, 4, generator=g, dtype=torch.float64)),
    "log_softmax_temperature": lambda g: (_randn(g, 3, 4), Keywords(dim=0, temperature=0.5)),
    "reformer_reverse_sort": lambda g: _reverse_sort_inputs(g),
    "exp_past_overflow": lambda g: (_randn(g, 3, 4),),
    "classic_softplus_numpy_jvp": lambda g: (_randn(g, 3, 4),),
    "square_kept_out_of_compile": lambda g: (_randn(g, 3, 4),),
    "square_when_recording": lambda g: (_randn(g, 3, 4),),
}


def fixed_inputs(spec: FunctionSpec, seed: int = 0) -> tuple[Any, ...]:
    """The float64 arguments gradcheck gets for ``spec``: seeded, the same on every run."""
    try:
        build = _INPUTS[spec.name]
    except KeyError:
        raise KeyError(f"gradcheck_anchor: no fixed inputs for spec {spec.name!r}; add them to _INPUTS") from None
    generator = torch.Generator().manual_seed(seed)
    args = build(generator)
    wrt = spec.differentiable(args)  # not an index, not a declared constant such as BCE's targets
    return tuple(a.requires_grad_() if i in wrt else a for i, a in enumerate(args))


@dataclasses.dataclass(frozen=True)
class GradcheckOutcome:
    caught: bool
    detail: str  # the error's type and first line, or "" when gradcheck passed


def run_gradcheck(spec: FunctionSpec, mode: str, seed: int = 0) -> GradcheckOutcome:
    """Run gradcheck in ``mode`` on ``spec``'s function; any error counts as caught."""
    if mode not in MODES:
        raise ValueError(f"run_gradcheck: mode={mode!r}; choose from {MODES}")
    inputs = fixed_inputs(spec, seed)
    try:
        if mode == "slow":
            torch.autograd.gradcheck(spec.function, inputs)
        elif mode == "fast":
            torch.autograd.gradcheck(spec.function, inputs, fast_mode=True)
        else:
            forward_ad = spec.claims_forward_ad
            torch.autograd.gradcheck(spec.function, inputs, check_forward_ad=forward_ad, check_batched_grad=True)
            torch.autograd.gradgradcheck(spec.function, inputs, check_batched_grad=True, check_fwd_over_rev=forward_ad)
    except Exception as exc:  # GradcheckError, or the Function itself raising: the user sees both
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return GradcheckOutcome(True, f"{type(exc).__name__}: {first_line[:160]}")
    return GradcheckOutcome(False, "")
