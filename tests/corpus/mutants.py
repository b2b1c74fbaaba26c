"""The planted-bug corpus: each mutant is a realistic Function with one bug, the correct twin it
differs from by that bug alone, and the properties that must catch it.

Every mutant is loaded by the public path, as ``--funcs tests.corpus.mutants:NAME``; every
twin as ``--funcs tests.corpus.twins``.
"""

from __future__ import annotations

import dataclasses

from autograd_props import PROPERTY_NAMES, FunctionSpec
from tests.corpus import planted_capability_bugs as capability
from tests.corpus import planted_complex_bugs as complex_bugs
from tests.corpus import planted_custom_op_bugs as custom_op
from tests.corpus import planted_hygiene_bugs as hygiene
from tests.corpus import planted_kind_bugs as kind
from tests.corpus import planted_value_bugs as value
from tests.corpus.softplus_sign_flipped import SPECS as SIGN_FLIPPED_SPECS
from tests.corpus.twins import TWINS

# A wrong backward value is also seen by every property that evaluates backward against the
# reference by another route: double backward (its cotangent derivative is the backward itself),
# torch.func.vjp/grad in the vmap property, special_values (backward at extreme inputs) and
# unused_outputs (backward for each output alone, and for zero cotangents).
# Those failures are the same bug, not unrelated ones.
BACKWARD_VALUE = frozenset({"double_backward", "vmap", "special_values", "extreme_values", "unused_outputs"})
VJP = frozenset({"vjp_native", "vjp_finite_differences"})
ALL = frozenset(PROPERTY_NAMES)


@dataclasses.dataclass(frozen=True)
class Mutant:
    spec: FunctionSpec
    twin: FunctionSpec  # the correct Function it differs from by the bug alone
    bug_class: str  # the kind of bug, as the corpus table groups them
    bug: str  # this mutant's bug in words
    catches: frozenset[str]  # the properties aimed at this bug; one of them must fail
    allowed: frozenset[str] = frozenset()  # others that may fail as a side effect
    bugs: int = 1  # distinct failures the aimed property must report in one cell


def _mutant(twin: str, cls: type, bug_class: str, bug: str, catches, allowed=frozenset(), bugs: int = 1) -> Mutant:
    correct = TWINS[twin]
    spec = dataclasses.replace(correct, function=cls.apply, function_class=cls)
    return Mutant(spec, correct, bug_class, bug, frozenset(catches), frozenset(allowed), bugs)


MUTANTS: dict[str, Mutant] = {
    # values: forward or backward computes the wrong numbers
    "SIGN_FLIP": Mutant(SIGN_FLIPPED_SPECS[0], TWINS["softplus"], "sign flipped", "softplus backward negated", VJP, BACKWARD_VALUE),
    "IGNORES_GRAD_OUTPUT": _mutant("exp", value.ExpIgnoresGradOutput, "ignores grad_output", "exp backward returns the local derivative", VJP, BACKWARD_VALUE),
    "WRONG_FACTOR": _mutant("square", value.SquareMissingFactor, "factor wrong", "square backward without the 2", VJP, BACKWARD_VALUE),
    "SMALL_RELATIVE_ERROR": _mutant("square", value.SquareSmallError, "small relative error", "square backward off by 1e-5 relative", VJP, BACKWARD_VALUE),
    "MEAN_REDUCTION": _mutant("affine", value.AffineMeanReduction, "broadcast reduction: mean", "affine reduces grad_w with mean, not sum", VJP, BACKWARD_VALUE | {"gradient_contract"}),
    # Rows past the last full chunk: only drawn at large sizes (the spec's sizes="large", chunk_sizes).
    "DROPS_PARTIAL_CHUNK": _mutant("chunked_cross_entropy", value.ChunkedCrossEntropyDropsPartialChunk, "last partial chunk dropped", "chunked cross-entropy leaves out rows past the last full chunk of 4,096", {"forward"} | VJP, BACKWARD_VALUE),
    "REDUCES_WRONG_DIM": _mutant("softmax", value.SoftmaxWrongDim, "broadcast reduction: wrong dim", "softmax backward reduces over the last dim, not dim", VJP, BACKWARD_VALUE),
    "MATMUL_TRANSPOSE": _mutant("linear_square", value.LinearTransposeMissing, "matmul transpose missing", "linear grad_x = g @ W.T on square W", VJP, BACKWARD_VALUE),
    "SOFTMAX_MISSING_TERM": _mutant("softmax", value.SoftmaxMissingTerm, "softmax term missing", "softmax backward keeps only y * g", VJP, BACKWARD_VALUE),
    "LAYERNORM_MISSING_TERM": _mutant("layernorm", value.LayerNormMissingTerm, "layer-norm term missing", "layernorm grad_x without the variance term", VJP, BACKWARD_VALUE),
    "KINK_SUBGRADIENT": _mutant("relu", value.ReLUKinkSubgradient, "kink subgradient", "relu gradient 1 at x = 0 (native: 0)", {"vjp_native"}, BACKWARD_VALUE),
    "UNSTABLE_FORWARD": _mutant("softplus", value.SoftplusNaive, "unstable forward", "softplus as log1p(exp(x))", {"special_values"}, {"forward", "extreme_values"}),
    # backward and jvp read the saved output, so an overflowed output is a wrong gradient too
    "UNSTABLE_LOGSUMEXP": _mutant("logsumexp", value.LogSumExpUnshifted, "unstable forward", "logsumexp without the max shift", {"special_values", "extreme_values"}, {"forward", "forward_ad"} | VJP | BACKWARD_VALUE),
    # hygiene: autograd's contract broken, values often right
    "TENSOR_ON_CTX": _mutant("square", hygiene.SquareOnCtx, "tensor on ctx", "input kept on ctx, not saved", {"saved_tensor_hygiene", "memory"}),
    "OUTPUT_ON_CTX": _mutant("square", hygiene.SquareOutputOnCtx, "tensor on ctx", "output kept on ctx (reference cycle)", {"memory"}),
    # In place on an expanded (stride-0) grad_output is an error: layouts sees that too.
    "MUTATES_GRAD_OUTPUT": _mutant("square", hygiene.SquareMutatesGradOutput, "grad_output modified in place", "square backward multiplies grad_output in place", {"no_mutation"}, BACKWARD_VALUE | {"layouts", "deterministic_backward"}),
    "ASSUMES_CONTIGUOUS_GRAD": _mutant("square", hygiene.SquareAssumesContiguousGrad, "assumes contiguous grad_output", "square backward reads grad_output's storage densely", {"layouts"}),
    # The in-place clamp of an input below -30 raises in every property that calls forward on leaves
    # requiring grad ("a leaf Variable that requires grad is being used in an in-place operation").
    "FORWARD_IN_PLACE": _mutant("softplus", hygiene.SoftplusForwardInPlace, "input modified in place", "softplus forward clamps its input in place", {"no_mutation"}, {"saved_tensor_hygiene", "layouts", "forward"} | VJP | BACKWARD_VALUE),
    # compiled autograd asks for other needs_input_grad subsets
    "COMPACTS_GRADIENTS": _mutant("affine", hygiene.AffineCompactsGradients, "needs_input_grad ignored", "gradients shift position when one is not needed", {"needs_input_grad"}, {"gradient_contract", "compile"}),
    # needs_input_grad runs backward once per subset of inputs, and special_values compares a
    # backward with the reference's: each sees the random order as a changed value.
    "NONDETERMINISTIC": _mutant("affine", hygiene.AffineNondeterministic, "nondeterministic backward", "affine sums in a random order", {"deterministic_backward"}, {"needs_input_grad", "special_values", "extreme_values"}),
    # capabilities beyond first-order backward
    "DETACHES_SAVED": _mutant("square", capability.SquareDetachesSaved, "detached saved tensor", "square backward detaches x: double backward zero", {"double_backward"}),
    "SAVES_INTERMEDIATE": _mutant("softplus", capability.SoftplusSavesSigmoid, "saved intermediate", "softplus saves sigmoid(x): double backward wrong", {"double_backward"}),
    "WRONG_JVP": _mutant("softplus", capability.SoftplusWrongJvp, "wrong jvp", "softplus jvp uses sigmoid(-x)", {"forward_ad"}),
    # Right when the inputs do not require grad, as forward mode was drawn before (a classic-style
    # Function: torch.func.jvp, which would also refuse NumPy, does not run it); fwd-over-rev runs
    # the jvp on leaves that require grad too.
    "JVP_ONLY_WITHOUT_GRAD": _mutant("classic_softplus_numpy_jvp", capability.ClassicSoftplusNumpyJvpNotDetached, "jvp raises while recording", "classic softplus jvp calls .numpy() on its saved input, which raises when the inputs require grad", {"forward_ad"}, {"double_backward"}),
    # A forward that crashes breaks every property that calls it; both bugs must be reported.
    "TWO_BUGS": _mutant("softmax", value.SoftmaxTwoBugs, "two independent bugs", "softmax forward crashes on a negative dim; backward drops the sum term", {"vjp_native"}, ALL, bugs=2),
    # The second backward sees the slope already scaled; double backward differentiates a slope
    # that was made without grad, as SAVES_INTERMEDIATE does.
    "CTX_TENSOR_SCALED_IN_BACKWARD": _mutant("square", hygiene.SquareScalesSlopeInPlace, "ctx tensor modified in backward", "square backward scales a kept slope in place and returns it", {"deterministic_backward"}, {"double_backward"}),
    # kinds of Function: several outputs, integer outputs, index arguments, in place
    "ASSUMES_BOTH_GRADS": _mutant("sincos", kind.SinCosAssumesBothGrads, "None cotangent", "sincos backward multiplies a None cotangent", {"unused_outputs"}),
    "DROPS_OUTPUT_GRAD": _mutant("sincos", kind.SinCosDropsCosTerm, "output cotangent ignored", "sincos backward ignores cos's cotangent", VJP, BACKWARD_VALUE),
    "SORT_NOT_INVERTED": _mutant("sort", kind.SortGathersInsteadOfScatters, "permutation not inverted", "sort backward gathers by the indices instead of scattering", VJP, BACKWARD_VALUE),
    "ASSIGNS_REPEATED_IDS": _mutant("embedding", kind.EmbeddingAssignsRepeatedIds, "repeated indices assigned", "embedding backward assigns rows, so a repeated id keeps one gradient", VJP, BACKWARD_VALUE),
    # Without mark_dirty a loss on the modified input misses the scaling: every gradient check sees it.
    "FORGETS_MARK_DIRTY": _mutant("scale_in_place", kind.ScaleInPlaceForgetsMarkDirty, "mark_dirty forgotten", "in-place scale without ctx.mark_dirty", {"gradient_contract"}, VJP | BACKWARD_VALUE | {"compile"}),
    # A wrapper's path around its Function (taken when nothing requires grad) is what inference,
    # evaluation and forward mode run: its values must be the Function's.
    "WRAPPER_PATH_DIFFERS": Mutant(
        dataclasses.replace(TWINS["square_when_recording"], function=kind.square_when_recording_wrong_path),
        TWINS["square_when_recording"], "wrapper path wrong", "a checkpoint-style wrapper's path around the Function computes x * |x|",
        frozenset({"forward", "forward_ad"}), frozenset({"vjp_finite_differences", "special_values", "extreme_values", "vmap"}),
    ),
    # No reference: the other dtypes are compared with the Function's own float64, which has the
    # same bug, so only the forward's own slope (finite differences) can see it.
    "NO_REFERENCE_WRONG_BACKWARD": _mutant("log1mexp", kind.Log1mexpLargeXSlope, "wrong backward, no reference", "log1mexp backward uses exp(-x), its large-x limit", {"vjp_finite_differences"}, BACKWARD_VALUE),
    # Keyword arguments (dim=, temperature=) through a wrapper, as a classic Function is called.
    "FORGETS_TEMPERATURE": Mutant(
        dataclasses.replace(TWINS["log_softmax_temperature"], function=kind.log_softmax_temperature_unscaled, function_class=kind.LogSoftmaxTemperatureUnscaled),
        TWINS["log_softmax_temperature"], "keyword argument ignored", "log-softmax backward ignores the temperature keyword", VJP, BACKWARD_VALUE,
    ),
    "NO_FWD_OVER_REV": _mutant("softplus", capability.SoftplusBackwardWithoutForwardMode, "no forward mode through backward", "softplus backward calls a Function without a jvp: fwd-over-rev raises", {"double_backward"}),
    "WRONG_VMAP_RULE": _mutant("softplus", capability.SoftplusWrongVmapRule, "wrong vmap rule", "vmap rule moves the batch dimension", {"vmap"}),
    # complex tensors: the conjugate-Wirtinger convention's conj() missing
    "COMPLEX_MUL_MISSING_CONJ": _mutant("complex_mul", complex_bugs.ComplexMulMissingConj, "complex: conj() missing", "complex multiply backward uses b, not conj(b)", VJP, BACKWARD_VALUE),
    "COMPLEX_ABS_WIRTINGER": _mutant("complex_abs", complex_bugs.ComplexAbsWirtinger, "complex: conj() missing", "|z| backward uses conj(z) / |z|, not z / |z|", VJP, BACKWARD_VALUE),
}


def _custom_op_mutant(op: str, bug_class: str, bug: str, catches, allowed=frozenset()) -> Mutant:
    correct = TWINS["silu_op"]
    return Mutant(dataclasses.replace(correct, function=custom_op.OPS[op]), correct, bug_class, bug, frozenset(catches), frozenset(allowed))


if custom_op.OPS:  # torch 2.4+
    MUTANTS.update(
        {
            "CUSTOM_OP_WRONG_BACKWARD": _custom_op_mutant(
                "silu_wrong_backward", "custom op: wrong backward", "registered silu backward is sigmoid(x) alone", VJP, BACKWARD_VALUE
            ),
            # opcheck's fake-tensor test compares strides too, on the drawn (contiguous) input only.
            "CUSTOM_OP_FAKE_STRIDES": _custom_op_mutant(
                "silu_contiguous_fake", "custom op: wrong fake strides", "fake implementation always contiguous (torch.empty)",
                {"meta_device"}, {"opcheck_faketensor", "opcheck_aot_dispatch_dynamic", "compile"},
            ),
            # The write also turns a NaN input's NaN output into silu(0) (special and extreme values),
            # fails on an expanded input (layouts), and opcheck's schema test may see it.
            "CUSTOM_OP_UNDECLARED_MUTATION": _custom_op_mutant(
                "silu_undeclared_mutation", "custom op: undeclared mutation", "kernel replaces NaNs in its input, mutates_args=()",
                {"no_mutation"}, {"opcheck_schema", "layouts", "special_values", "extreme_values"},
            ),
        }
    )

# Module attributes, so each mutant is reachable as --funcs tests.corpus.mutants:NAME
globals().update({name: m.spec for name, m in MUTANTS.items()})
