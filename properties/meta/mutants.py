"""Planted bugs: each a realistic Function with one bug, the property that must catch it, and the
correct Function it was derived from.  Every mutant is loaded by the public path, as
``--funcs properties.meta.mutants:NAME``.
"""

from __future__ import annotations

import dataclasses

import torch

from funcs.affine import Affine, sum_to_shape
from funcs.affine import SPEC as AFFINE
from funcs.spec import FunctionSpec
from funcs.square import SPEC as SQUARE
from funcs.square import Square
from properties.meta.softplus_correct import SPECS as SOFTPLUS_SPECS
from properties.meta.softplus_sign_flipped import SPECS as SIGN_FLIPPED_SPECS

SOFTPLUS = SOFTPLUS_SPECS[0]


# A wrong backward value is also seen by every property that evaluates backward against the
# reference by another route: double backward (its cotangent derivative is the backward itself)
# and torch.func.vjp/grad in the vmap property.  Those failures are the same bug, not unrelated.
BACKWARD_VALUE = frozenset({"double_backward", "vmap"})


@dataclasses.dataclass(frozen=True)
class Mutant:
    spec: FunctionSpec
    twin: FunctionSpec  # the correct Function it differs from by the bug alone
    bug: str
    catches: frozenset[str]  # the properties aimed at this bug; one of them must fail
    allowed: frozenset[str] = frozenset()  # others that may fail as a side effect


def _mutant(twin: FunctionSpec, cls: type, bug: str, catches: set[str], allowed: set[str] = frozenset()) -> Mutant:
    spec = dataclasses.replace(twin, function=cls.apply, function_class=cls)
    return Mutant(spec, twin, bug, frozenset(catches), frozenset(allowed))


class SquareSmallError(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x * (1 + 1e-5)


class SquareOnCtx(Square):
    @staticmethod
    def setup_context(ctx, inputs, output):
        (ctx.x,) = inputs  # kept as an attribute: autograd cannot see it modified

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * 2 * ctx.x


class SquareMutatesGradOutput(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output.mul_(2).mul_(x)  # right value, caller's tensor clobbered


class AffineForgetsReduction(Affine):
    @staticmethod
    def backward(ctx, grad_output):
        w, x = ctx.saved_tensors
        # grad_b left at the broadcast shape: autograd sums it for us, so values look right
        return sum_to_shape(grad_output * x, w.shape), sum_to_shape(grad_output * w, x.shape), grad_output


class AffineMeanReduction(Affine):
    @staticmethod
    def backward(ctx, grad_output):
        w, x = ctx.saved_tensors
        grad_w = grad_output * x
        extra = grad_w.dim() - w.dim()
        if extra:
            grad_w = grad_w.mean(dim=tuple(range(extra)))  # mean over the broadcast batch: 1/n too small
        return sum_to_shape(grad_w, w.shape), sum_to_shape(grad_output * w, x.shape), sum_to_shape(grad_output, ctx.b_shape)


class AffineCompactsGradients(Affine):
    @staticmethod
    def backward(ctx, grad_output):
        grads = Affine.backward(ctx, grad_output)
        present = [g for g in grads if g is not None]  # drops None placeholders: positions shift
        return tuple(present + [None] * (3 - len(present)))


def _random_order_sum_to_shape(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Reduce like sum_to_shape, but the first reduced dimension in a random order (as atomics do)."""
    reduces_first = grad.dim() > len(shape) or (grad.dim() > 0 and shape[0] == 1)
    if grad.dim() > 0 and grad.shape[0] > 1 and reduces_first:
        grad = grad[torch.randperm(grad.shape[0], device=grad.device)].cumsum(0)[-1:]
    return sum_to_shape(grad, shape)


class AffineNondeterministic(Affine):
    @staticmethod
    def backward(ctx, grad_output):
        w, x = ctx.saved_tensors
        return (
            _random_order_sum_to_shape(grad_output * x, w.shape),
            sum_to_shape(grad_output * w, x.shape),
            _random_order_sum_to_shape(grad_output, ctx.b_shape),
        )


class SoftplusForwardInPlace(SOFTPLUS.function_class):
    @staticmethod
    def forward(x):
        x.clamp_(min=-30.0)  # "for stability": also clamps the caller's tensor
        return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))


class SquareDetachesSaved(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x.detach()  # first order right, second order silently zero


Softplus = SOFTPLUS.function_class


class SoftplusSavesSigmoid(Softplus):
    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(torch.sigmoid(x))  # an intermediate: neither input nor output
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx, grad_output):
        (sigmoid_x,) = ctx.saved_tensors
        return grad_output * sigmoid_x


class SoftplusWrongJvp(Softplus):
    @staticmethod
    def jvp(ctx, x_tangent):
        (x,) = ctx.saved_tensors
        return x_tangent * torch.sigmoid(-x)  # sign inside the sigmoid lost


class SoftplusWrongVmapRule(Softplus):
    generate_vmap_rule = False

    @staticmethod
    def vmap(info, in_dims, x):
        # moves the batch dimension last but reports it at 0
        return Softplus.apply(x.movedim(in_dims[0], -1)), 0


class SoftplusNaive(Softplus):
    @staticmethod
    def forward(x):
        return torch.log1p(torch.exp(x))  # overflows for large x where softplus is ~x


class SquareOutputOnCtx(Square):
    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)
        ctx.output = output  # unused, but a reference cycle that keeps the graph alive


class SquareAssumesContiguousGrad(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        # reads grad_output's storage as if it were laid out like x
        dense = torch.as_strided(grad_output, x.shape, x.contiguous().stride(), grad_output.storage_offset())
        return dense * 2 * x


MUTANTS: dict[str, Mutant] = {
    "SIGN_FLIP": Mutant(SIGN_FLIPPED_SPECS[0], SOFTPLUS, "backward sign flipped", frozenset({"vjp_native", "vjp_finite_differences"}), BACKWARD_VALUE),
    "SMALL_RELATIVE_ERROR": _mutant(SQUARE, SquareSmallError, "backward off by 1e-5 relative", {"vjp_native", "vjp_finite_differences"}, BACKWARD_VALUE),
    "TENSOR_ON_CTX": _mutant(SQUARE, SquareOnCtx, "input kept on ctx, not saved", {"saved_tensor_hygiene", "memory"}),
    # In place on an expanded (stride-0) grad_output is an error: layouts sees that too.
    "MUTATES_GRAD_OUTPUT": _mutant(SQUARE, SquareMutatesGradOutput, "backward modifies grad_output in place", {"no_mutation"}, BACKWARD_VALUE | {"layouts"}),
    "FORGETS_REDUCTION": _mutant(AFFINE, AffineForgetsReduction, "broadcast gradient not reduced", {"gradient_contract"}),
    "MEAN_REDUCTION": _mutant(AFFINE, AffineMeanReduction, "broadcast reduced with mean, not sum", {"vjp_native", "vjp_finite_differences"}, BACKWARD_VALUE | {"gradient_contract", "special_values"}),
    "COMPACTS_GRADIENTS": _mutant(AFFINE, AffineCompactsGradients, "gradients shift position when one is not needed", {"needs_input_grad"}, {"gradient_contract", "compile"}),  # compiled autograd asks for other subsets
    "NONDETERMINISTIC": _mutant(AFFINE, AffineNondeterministic, "backward sums in a random order", {"deterministic_backward"}, {"needs_input_grad"}),
    "FORWARD_IN_PLACE": _mutant(SOFTPLUS, SoftplusForwardInPlace, "forward modifies its input", {"no_mutation"}, {"saved_tensor_hygiene", "layouts"}),  # in place on an expanded input is an error
    "DETACHES_SAVED": _mutant(SQUARE, SquareDetachesSaved, "backward detaches its saved tensors", {"double_backward"}),
    "SAVES_INTERMEDIATE": _mutant(SOFTPLUS, SoftplusSavesSigmoid, "saves an intermediate, not an input or output", {"double_backward"}),
    "WRONG_JVP": _mutant(SOFTPLUS, SoftplusWrongJvp, "jvp wrong", {"forward_ad"}),
    "WRONG_VMAP_RULE": _mutant(SOFTPLUS, SoftplusWrongVmapRule, "vmap rule moves the batch dimension", {"vmap"}),
    "UNSTABLE_FORWARD": _mutant(SOFTPLUS, SoftplusNaive, "forward overflows at large magnitudes", {"special_values"}, {"forward"}),
    "OUTPUT_ON_CTX": _mutant(SQUARE, SquareOutputOnCtx, "output kept on ctx (reference cycle)", {"memory"}),
    "ASSUMES_CONTIGUOUS_GRAD": _mutant(SQUARE, SquareAssumesContiguousGrad, "backward assumes grad_output is contiguous", {"layouts"}),
}

# Module attributes, so each mutant and twin is reachable as --funcs properties.meta.mutants:NAME
globals().update({name: m.spec for name, m in MUTANTS.items()})
TWINS = {"square": SQUARE, "affine": AFFINE, "softplus": SOFTPLUS}
