"""The oracles on hand-made cases: they flag wrong derivatives and stay quiet at kinks and cancellation."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from autograd_props import spec_named
from autograd_props.oracles import (
    BLOCK,
    _margin_where_native_is_the_truth,
    assert_matches_truth,
    finite_difference_slope,
    finite_elements,
    jacobian_magnitudes,
    ToleranceError,
)
from autograd_props.properties.special_values import check_special_values
from autograd_props.properties.vjp_native import check_vjp_native
from funcs.linear import Linear


def _slope(fn, x, analytic, u=1.0, v=1.0):
    x, u, v = (torch.tensor(t, dtype=torch.float64) for t in (x, u, v))
    sensitivities = jacobian_magnitudes(fn, (x,), (0,), cotangents=(u,)).vjp
    return finite_difference_slope(fn, (x,), (0,), (u,), (v,), analytic, sensitivities=sensitivities)


def test_finite_differences_accept_the_true_slope_and_reject_a_1e5_error():
    exact = _slope(torch.exp, 0.7, float(torch.exp(torch.tensor(0.7, dtype=torch.float64))))
    assert exact.smooth and exact.margin <= 1.0
    off = _slope(torch.exp, 0.7, float(torch.exp(torch.tensor(0.7, dtype=torch.float64))) * (1 + 1e-5))
    assert off.smooth and off.margin > 1.0


def test_finite_differences_allow_for_the_rounded_step_at_large_x():
    # x + h v is rounded to float64: at x = 513 (ulp 1.1e-13) a step of 1e-4 * 0.125 is taken with
    # a relative error near 1e-8.  The soak found this false alarm (margin 1.05) while the
    # tolerance ignored it; the slope of exp there is exact to 1e-16.
    x, v = 513.0, 0.125
    slope = float(torch.exp(torch.tensor(x, dtype=torch.float64))) * v
    assert _slope(torch.exp, x, slope, v=v).margin <= 1.0
    assert _slope(torch.exp, x, slope * (1 + 1e-6), v=v).margin > 1.0


@pytest.mark.parametrize("fn", [torch.relu, torch.abs, lambda x: torch.clamp(x, min=0.5)])
def test_finite_differences_leave_kinks_to_the_native_oracle(fn):
    at_kink = 0.5 if fn not in (torch.relu, torch.abs) else 0.0
    result = _slope(fn, at_kink, analytic=123.0)
    assert not result.smooth and result.margin == 0.0


def test_a_kink_with_a_small_cotangent_among_smooth_elements_is_still_a_kink():
    # The soak's false alarm: relu at the smallest normal float, straddled by the step, carries a
    # small cotangent while two smooth elements dominate the slope.
    x = torch.tensor([2.2250738585072014e-308, 1.0, 1.0], dtype=torch.float64)
    u = torch.tensor([0.00390625, 1.0, 1.0], dtype=torch.float64)
    v = torch.ones(3, dtype=torch.float64)
    sensitivities = jacobian_magnitudes(torch.relu, (x,), (0,), cotangents=(u,)).vjp
    result = finite_difference_slope(torch.relu, (x,), (0,), (u,), (v,), 2.00390625, sensitivities=sensitivities)
    assert not result.smooth and result.margin == 0.0


def test_cancellation_is_judged_against_the_terms_not_the_tiny_sum():
    # sum(g * x) with large terms that cancel: float32 rounding error is set by the terms.
    x = torch.tensor([1e4, -1e4 + 1e-3, 3.0], dtype=torch.float32)
    g = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float32)
    def reference(w, x):
        return (w * x).sum()
    w = torch.tensor(1.0, dtype=torch.float32)
    truth = (g.double() * x.double()).sum()
    native = (g * x).sum()
    permuted = (g * x)[[2, 1, 0]].sum()
    magnitude = jacobian_magnitudes(reference, (w, x * g), (0,)).forward[0]
    margin = assert_matches_truth(permuted, native, truth, magnitude, tolerance=(1.3e-6, 1e-5), what="sum").margin
    assert margin <= 1.0
    with pytest.raises(AssertionError, match="worst at index"):
        assert_matches_truth(-native, native, truth, magnitude, tolerance=(1.3e-6, 1e-5), what="sum")


def _bce_with_logits(x):
    # native's formula with target y = 1e-12: (1 - y) x + max(-x, 0) + log(exp(-max) + exp(-x - max))
    y, m = 1e-12, (-x).clamp(min=0)
    return (1 - y) * x + m + torch.log(torch.exp(-m) + torch.exp(-x - m))


def test_finite_differences_measure_the_rounding_of_a_forward_whose_terms_cancel():
    # Found by the soak (seed 2217008248, the bce_with_logits twin): at x = -100 the forward is
    # -100 + 100 + 1e-10, known only to ulp(100) = 1.4e-14, so phi does not move over a step of
    # 1e-4 and the slope -1e-12 reads as 0.  Its size (1e-10) allowed 1.8e-15; its measured
    # rounding (rounding_noise.py) allows for it.
    true_slope = float(torch.sigmoid(torch.tensor(-100.0, dtype=torch.float64))) - 1e-12
    assert _slope(_bce_with_logits, -100.0, true_slope).margin <= 1.0
    assert _slope(_bce_with_logits, -100.0, 1e-6).margin > 1.0  # far beyond the measured rounding
    at_half = float(torch.sigmoid(torch.tensor(0.5, dtype=torch.float64))) - 1e-12
    assert _slope(_bce_with_logits, 0.5, at_half).margin <= 1.0
    assert _slope(_bce_with_logits, 0.5, at_half * (1 + 1e-5)).margin > 1.0  # no cancellation: still strict


def test_rounding_noise_is_the_computation_s_not_the_result_s_size():
    from autograd_props.rounding_noise import rounding_noise

    x = torch.tensor(-100.0, dtype=torch.float64)
    cancelling = rounding_noise(lambda: float(_bce_with_logits(x)), float(_bce_with_logits(x)))
    assert 1e-15 < cancelling < 1e-12  # ulp(100) scale, far above eps * 1e-10
    log_of_exp = rounding_noise(lambda: float(torch.log(torch.exp(-x / 2))), 50.0)
    assert log_of_exp < 1e-13  # exp(50) = 5e21 is an intermediate, but its rounding is relative


def test_nonfinite_native_requires_the_same_nonfinite_value():
    nan = torch.tensor([float("nan"), 1.0])
    mag = torch.ones(2, dtype=torch.float64)
    assert assert_matches_truth(nan.clone(), nan, nan.double(), mag, tolerance=(1e-6, 1e-6), what="x").margin <= 1.0
    with pytest.raises(AssertionError):
        assert_matches_truth(torch.tensor([0.0, 1.0]), nan, nan.double(), mag, tolerance=(1e-6, 1e-6), what="x")


def _bf16(rows):
    return torch.tensor(rows, dtype=torch.bfloat16)


def test_special_values_accept_a_finite_result_where_only_native_overflows():
    # Found by the soak (seed 2966976784): -3 * 1.69e38 + 3 * 44.25**2 + 1.69e38 is -3.3895e38,
    # bfloat16's -max.  Native bfloat16 linear accumulates in float32, where -3 * 1.69e38
    # overflows to -inf; the built-in Linear accumulates in float64 and gets the finite truth.
    big, nan = 1.6947656946257677e38, float("nan")
    x = _bf16([big, 44.25, 44.25, 44.25])
    weight = _bf16([[-3.0, 44.25, 44.25, 44.25]] + [[nan] * 4] * 3)
    bias = _bf16([big, nan, nan, nan])
    linear = spec_named("funcs", "linear")
    assert torch.isneginf(linear.reference(x, weight, bias)[0])
    check_special_values(linear, args=(x, weight, bias), cotangents=(_bf16([1.0, 1.0, 1.0, 0.0]),))


def test_special_values_accept_the_truth_s_nan_where_native_rounds_to_inf():
    # Found by the soak (seed 687606647, layer_norm_float32 float16): a constant row has x_hat = 0,
    # and with weight and bias inf the truth is 0 * inf + inf = NaN.  Native's float16 kernel gives
    # inf there (its own order of operations); the textbook twin gives the truth's NaN.
    from tests.corpus.real_style_twins import LAYER_NORM_32

    inf, nan = float("inf"), float("nan")
    half = lambda v: torch.tensor(v, dtype=torch.float16)
    args = (half([[5.546875, 5.546875]]), half([nan, inf]), half([nan, inf]), 1e-5)
    assert torch.isposinf(LAYER_NORM_32.reference(*args)[0, 1]) and torch.isnan(LAYER_NORM_32.function(*args)[0, 1])
    check_special_values(LAYER_NORM_32, args=args, cotangents=(half([[1.0, 1.0]]),))


# Found by the soak (seed 2642849772, layer_norm_float32 float64): x[5] equals the row's mean to
# within rounding (354.89 * 2 + 716.88 + 702.68 = 6 * 354.89, plus 2.2e-308), and its weight is inf.
# Exactly, x[5] - mean = -3.7e-309, so the output is -inf; native's mean rounds below x[5] (+inf),
# the textbook mean rounds to x[5] itself (0 * inf = NaN).  Rounding decides the sign.
ROW_AT_ITS_MEAN = (
    torch.tensor([2.2250738585072014e-308, 0.0, 354.891356446692, 716.8805400223179, 702.6848857644501, 354.891356446692], dtype=torch.float64),
    torch.tensor([float("nan")] * 5 + [float("inf")], dtype=torch.float64),
    torch.tensor([float("nan")] * 5 + [0.0], dtype=torch.float64),
    1e-05,
)


def test_special_values_accept_nan_where_rounding_decides_the_sign_of_an_infinity():
    from fractions import Fraction

    from tests.corpus.real_style_twins import LAYER_NORM_32

    x = ROW_AT_ITS_MEAN[0].tolist()
    assert Fraction(x[5]) - sum(map(Fraction, x)) / 6 < 0  # exactly: -inf
    assert torch.isposinf(LAYER_NORM_32.reference(*ROW_AT_ITS_MEAN)[5])  # native: +inf
    assert torch.isnan(LAYER_NORM_32.function(*ROW_AT_ITS_MEAN)[5])  # the textbook twin: NaN
    before = [a.clone() for a in ROW_AT_ITS_MEAN[:3]]
    check_special_values(LAYER_NORM_32, args=ROW_AT_ITS_MEAN, cotangents=(torch.ones(6, dtype=torch.float64),))
    # the moves are made on copies, not on the caller's float64 tensors
    for a, b in zip(ROW_AT_ITS_MEAN, before):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize(
    ("x5", "replacement"),
    [(500.0, float("nan")), (None, 0.0)],
    ids=["nan-where-the-infinity-is-certain", "finite-where-rounding-gives-only-infinities"],
)
def test_special_values_still_reject_what_rounding_cannot_give(x5, replacement):
    from tests.corpus.real_style_twins import LAYER_NORM_32

    # x[5] well away from the mean: +inf at any rounding, so NaN there is a bug; at the mean,
    # rounding gives +inf, -inf or NaN, never a finite number.
    x = ROW_AT_ITS_MEAN[0] if x5 is None else ROW_AT_ITS_MEAN[0].clone().index_fill_(0, torch.tensor([5]), x5)
    replaced = dataclasses.replace(
        LAYER_NORM_32,
        function=lambda *a: LAYER_NORM_32.function(*a).index_fill(0, torch.tensor([5]), replacement),
    )
    with pytest.raises(AssertionError, match="break the reference's finite/NaN/inf pattern"):
        check_special_values(replaced, args=(x, *ROW_AT_ITS_MEAN[1:]), cotangents=(torch.ones(6, dtype=torch.float64),))


@pytest.mark.parametrize(("got", "passes"), [(float("inf"), True), (float("nan"), False)], ids=["inf", "nan"])
def test_special_values_within_ulps_of_overflow_accept_inf_but_not_nan(got, passes):
    # x^2 at x = sqrt(max) is finite, and 4 ulps more overflow: rounding decides finite or inf, so
    # inf is one of rounding's answers; NaN is not (no infinity of either sign to multiply by 0).
    import math

    square = spec_named("funcs", "square")
    x = torch.tensor([math.sqrt(torch.finfo(torch.float64).max)], dtype=torch.float64)
    assert torch.isfinite(square.reference(x)).all()
    gives = dataclasses.replace(square, function=lambda t: t * t * 0 + got)
    if passes:
        check_special_values(gives, args=(x,), cotangents=(torch.ones(1, dtype=torch.float64),))
    else:
        with pytest.raises(AssertionError, match="break the reference's finite/NaN/inf pattern"):
            check_special_values(gives, args=(x,), cotangents=(torch.ones(1, dtype=torch.float64),))


@pytest.mark.parametrize(
    "x",
    [[3e38, 3e38], [float("nan"), 1.0]],
    ids=["overflow-in-the-truth", "nan-input"],
)
def test_special_values_still_reject_a_finite_result_where_the_truth_is_not_finite(x):
    # Hiding an overflow or a NaN input behind a finite number is the bug special_values exists for;
    # the float64 truth is not finite here, so native's inf/NaN is not its own rounding.
    linear = spec_named("funcs", "linear")
    hides = dataclasses.replace(linear, function=lambda *args: torch.nan_to_num(Linear.apply(*args)))
    args = (_bf16(x), _bf16([[3e38, 3e38]]), _bf16([0.0]))
    with pytest.raises(AssertionError, match="break the reference's finite/NaN/inf pattern"):
        check_special_values(hides, args=args, cotangents=(_bf16([1.0]),))


# --- the native allowance: native's luck at one element is not the Function's failure -----------

LUCKY_ARGS = (
    torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 1.0]], dtype=torch.float32),
    torch.tensor([1.0, 1.0, 186.0, -1.0], dtype=torch.float32),
    torch.tensor([0.0, 1.0, 1.0, 1.0], dtype=torch.float32),
    1e-05,
)
LUCKY_COTANGENTS = (torch.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]], dtype=torch.float32),)


def test_a_float32_layer_norm_no_worse_than_native_over_its_row_passes_where_native_was_lucky():
    # Found by the gate on a textbook float32 layer norm: row 1's x-gradient at element 2 is a
    # difference of terms near 430; native's error there is 8e-7 (lucky), this Function's 2e-5,
    # while native's worst in the row is 3.3e-5.  Native's own error at that element alone, the
    # old allowance, failed it.
    from autograd_props.harness import float64_args, vjp
    from autograd_props.oracles import ToleranceError
    from tests.corpus.real_style_twins import LayerNorm32, layer_norm_reference

    which = (0, 1, 2)
    _, got = vjp(LayerNorm32.apply, LUCKY_ARGS, which, LUCKY_COTANGENTS)
    _, native = vjp(layer_norm_reference, LUCKY_ARGS, which, LUCKY_COTANGENTS)
    _, truth = vjp(layer_norm_reference, float64_args(LUCKY_ARGS), which, float64_args(LUCKY_COTANGENTS))
    sizes = jacobian_magnitudes(layer_norm_reference, LUCKY_ARGS, which, LUCKY_COTANGENTS)
    error = (got[0].double() - truth[0]).abs()
    native_error = (native[0].double() - truth[0]).abs()
    assert error[1, 2] > 20 * native_error[1, 2] and error[1].max() < native_error[1].max()
    tolerance = (1.3e-6, 1e-5)
    with pytest.raises(ToleranceError):  # element by element against native, as before
        assert_matches_truth(got[0], native[0], truth[0], sizes.vjp[0], tolerance=tolerance, what="x", coupled=torch.eye(8, dtype=torch.bool))
    comparison = assert_matches_truth(got[0], native[0], truth[0], sizes.vjp[0], tolerance=tolerance, what="x", coupled=sizes.input_coupling[0])
    assert comparison.margin < 1


def test_the_native_allowance_still_catches_a_small_relative_error_in_float64():
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)
    truth = 2 * x
    magnitude = (2 * x).abs()
    coupled = torch.ones(7, 7, dtype=torch.bool)  # even with every element coupled with every other
    with pytest.raises(AssertionError):
        assert_matches_truth(truth * (1 + 1e-5), truth, truth, magnitude, tolerance=(1e-7, 1e-7), what="g", coupled=coupled)


def test_16_bit_allows_four_times_natives_error_and_names_a_precision_loss():
    truth = torch.tensor([1.0, 2.0], dtype=torch.float64)
    native = torch.tensor([1.0 + 2**-10, 2.0], dtype=torch.float16)  # one ulp off at element 0
    magnitude = truth.abs()
    three_ulps = torch.tensor([1.0 + 3 * 2**-10, 2.0], dtype=torch.float16)
    assert assert_matches_truth(three_ulps, native, truth, magnitude, tolerance=(0.0, 0.0), what="g").margin <= 1
    far = torch.tensor([1.0 + 40 * 2**-10, 2.0], dtype=torch.float16)
    with pytest.raises(AssertionError, match="a precision loss: 40x native's error"):
        assert_matches_truth(far, native, truth, magnitude, tolerance=(0.0, 0.0), what="g")


def test_a_second_derivative_varying_far_below_the_step_is_not_judged_by_differences():
    # Soak seed 242044525 (on 3f7e42a): log1mexp at x = 9.5e-7, where its derivatives change on
    # the scale of x, far below the step of 1e-4 (x - 2h leaves its domain).  The analytic second
    # derivative, 2.3e-302 at this scale, is right; the differences saw -2.7e-306.  The slope
    # changes across the step, so the point is left to the native oracle (fe4a74e).
    from autograd_props.properties.double_backward import check_double_backward

    tiny = torch.tensor(2.2250738585072014e-308, dtype=torch.float64)
    one = torch.tensor(1.0, dtype=torch.float64)
    check_double_backward(spec_named("funcs", "log1mexp"), args=(torch.tensor(9.5367431640625e-07, dtype=torch.float64),),
                          cotangents=(tiny,), directions=(tiny,), probes=(one, one))


def test_a_slope_jumping_within_the_step_is_left_to_the_native_oracle():
    # Soak seed 2963718657 (on 459c24a): z = 1e-5 + 0j, moved along (1, 0.03125), crosses 0 within
    # the step of 1e-4, and the VJP map's u z / |z| flips sign there.  The slope changes by 1 in 16
    # (under STEP_SCALE_CHANGE), but its second difference, -0.999, explains the disagreement of
    # 0.442 the differences saw: 15.66 against the analytic 16.11.
    from autograd_props import ComplexArgs
    from autograd_props.properties.double_backward import check_double_backward

    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    ones = [[1.0, 1.0]] * 5
    args = f64([ones[:3] + [[1.0, 0.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [1e-05, 0.0], [0.0, 1.0]], ones[:4] + [[1.0, 0.0]]])
    cotangents = f64([[1.0] * 5, [1.0, 1.0, 1.0, 1.93067471164297e-280, 1.0], [0.0] + [1.0] * 4])
    directions = f64([[[1.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]],
                      [[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.03125], [1.0, 1.0]],
                      [[1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [1.0, 1.0]]])
    probes = (f64([ones[:3] + [[1.0, 0.0], [1.0, 1.0]], [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]],
                   [[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]]),
              f64([[1.0, 0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.5, 1.0], [1.0] * 5]))
    check_double_backward(spec_named("funcs", "complex_abs"), args=(args, ComplexArgs(0)), cotangents=(cotangents,),
                          directions=(directions,), probes=probes)


def test_a_slope_varying_within_the_step_still_catches_a_1e5_error():
    # The second-difference rule only excuses what the slope's variation explains: exp's slope
    # varies by h^2 exp(x) ~ 1e-8 relative across the step, far below a 1e-5 error.
    x, u, v = (torch.tensor(t, dtype=torch.float64) for t in (0.7, 1.0, 1.0))
    true = lambda t: float(torch.exp(x + t * v))  # noqa: E731
    sensitivities = jacobian_magnitudes(torch.exp, (x,), (0,), cotangents=(u,)).vjp
    off = finite_difference_slope(torch.exp, (x,), (0,), (u,), (v,), true(0.0) * (1 + 1e-5), sensitivities=sensitivities,
                                  analytic_at=lambda t: true(t) * (1 + 1e-5))
    assert off.smooth and off.margin > 1.0


def test_finite_differences_off_on_the_reference_itself_are_left_to_the_native_oracle():
    # Soak seed 1579158504 (on b019b4b): GELU at x = -7.25 is F.gelu's 0.5 x (1 + erf(x / sqrt 2)),
    # 1.5e-12 known only to 4e-16 inside the kernel, while the slope there moves phi by 7e-17 per
    # step.  The differences missed the slope's 7e-13 on the Function and on F.gelu alike.
    from autograd_props.properties.vjp_finite_differences import check_vjp_finite_differences

    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    verdict = check_vjp_finite_differences(spec_named("tests.corpus.twins", "gelu_own_rounding"), args=(f64([0.015625, -7.25]),),
                                           cotangents=(f64([0.25, 1.0]),), directions=(f64([0.0625, 0.0625]),))
    assert "finite differences are off on the reference itself" in verdict.notes[0]


def test_finite_elements_is_isfinite():
    tiny = torch.finfo(torch.float64).tiny
    x = torch.tensor([0.0, -0.0, tiny / 4, -tiny, 1.0, -1e308, 1.7e308, float("inf"), -float("inf"), float("nan")], dtype=torch.float64)
    assert torch.equal(finite_elements(x), torch.isfinite(x))


@pytest.mark.parametrize("k", [0, 1, -1, 2, -2])
def test_a_moved_point_is_x_plus_t_v_bit_for_bit(k):
    # finite_difference_slope moves x by k (h v) in one pass and _step_rounding measures the
    # rounding of x + t v: both rest on k (h v) being exactly (k h) v for these k.
    generator = torch.Generator().manual_seed(k + 2)
    x = torch.randn(10_000, generator=generator, dtype=torch.float64) * torch.logspace(-300, 300, 10_000, dtype=torch.float64)
    v = torch.randn(10_000, generator=generator, dtype=torch.float64) * torch.logspace(-3, 3, 10_000, dtype=torch.float64)
    h = 1e-4
    moved = torch.add(x, h * v, alpha=k)
    assert torch.equal(moved, x + (k * h) * v)
    assert torch.equal(moved.signbit(), (x + (k * h) * v).signbit())


def _outcome(got, native, truth, magnitude, **kwargs):
    try:
        comparison = assert_matches_truth(got, native, truth, magnitude, **kwargs)
    except ToleranceError as exc:
        return str(exc), exc.failing, exc.allowed
    return float.hex(comparison.margin), comparison.unjudged, None


@pytest.mark.parametrize("error", [0.0, 1e-9, 1e-3])
@pytest.mark.parametrize("reference_may_fail", [False, True])
def test_native_as_the_truth_with_nothing_sized_judges_as_the_general_rule(error, reference_may_fail):
    # Where native is the float64 truth and no magnitude is sized (the strict pass),
    # assert_matches_truth judges block by block, and leaves a failure to the general rule; a
    # copy of the truth takes the general rule.  The same margin and unjudged elements, or the
    # same failure word for word, with special values in, over three blocks and a partial one.
    size = 3 * BLOCK + 5
    generator = torch.Generator().manual_seed(7)
    truth = torch.randn(size, generator=generator, dtype=torch.float64) * torch.logspace(-8, 8, size, dtype=torch.float64)
    truth[::997] = float("nan")
    truth[5::1001] = float("inf")
    truth[7::1003] = -float("inf")
    truth[9::889] = 0.0
    truth[13::1009] = float("nan")  # stays NaN in got: the same as native
    got = truth * (1 + error * torch.randn(size, generator=generator, dtype=torch.float64))
    if reference_may_fail:
        got[::997] = 2.0  # finite where the reference is not: unjudged
    tolerance = (1e-7, 1e-7)
    kwargs = dict(tolerance=tolerance, what="g", reference_may_fail=reference_may_fail)
    general = _outcome(got, truth, truth.clone(), torch.zeros(size, dtype=torch.float64), **kwargs)
    assert _outcome(got, truth, truth, torch.zeros(size, dtype=torch.float64), **kwargs)[0] == general[0]
    margin, unjudged = _margin_where_native_is_the_truth(got, truth, tolerance, reference_may_fail=reference_may_fail)
    if error > 1e-5:
        assert margin > 1.0 and general[2] is not None  # failed: the general rule said it
    else:
        assert float.hex(margin) == general[0] and general[2] is None
        assert (unjudged is None) == (general[1] is None) and (unjudged is None or torch.equal(unjudged, general[1]))


def test_an_infinite_result_where_the_truth_is_nan_is_judged_not_left_unjudged():
    truth = torch.tensor([1.0, float("nan"), float("nan")], dtype=torch.float64)
    got = torch.tensor([1.0, 2.0, float("inf")], dtype=torch.float64)
    margin, unjudged = _margin_where_native_is_the_truth(got, truth, (1e-7, 1e-7), reference_may_fail=True)
    assert margin == float("inf") and unjudged.tolist() == [False, True, False]


# --- native's luck in the cotangent, and a gradient's conditioning in its inputs ----------------

ILL_CONDITIONED_ROW = (
    torch.tensor([8.0, 7.994602680206299], dtype=torch.float32),
    torch.tensor([1.0, 1.0], dtype=torch.float32),
    torch.tensor([1.0, 1.0], dtype=torch.float32),
    1e-05,
)


def test_a_textbook_layer_norm_on_a_row_of_tiny_variance_is_judged_by_native_s_rounding_there():
    # Found by the soak (seed 687606647): rstd is 240, and the textbook formula's x-gradient for
    # a cotangent of ones is -0.009 where the truth is 0.  Native's kernel is exactly 0 for any
    # cotangent of ones (its formula cancels there) and rounds as much for any other; the weight
    # gradient u x_hat carries the rounding of x_hat's mean, 5.7e-5 here against native's lucky 2.5e-5.
    from tests.corpus.real_style_twins import LAYER_NORM_32

    verdict = check_vjp_native(LAYER_NORM_32, args=ILL_CONDITIONED_ROW, cotangents=(torch.ones(2),))
    assert any("other cotangents" in note for note in verdict.notes)


class _LayerNormGradientOff(torch.autograd.Function):
    """Native layer norm whose x-gradient is 3e-4 too large: a float32 bug the widening must not hide."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        ctx.save_for_backward(x, weight, bias)
        ctx.eps = eps
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), weight, bias, eps)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight, bias = (t.detach().requires_grad_() for t in ctx.saved_tensors)
        with torch.enable_grad():
            y = torch.nn.functional.layer_norm(x, (x.shape[-1],), weight, bias, ctx.eps)
            gx, gw, gb = torch.autograd.grad(y, (x, weight, bias), grad_output)
        return gx * (1 + 3e-4), gw, gb, None


@pytest.mark.parametrize("row", [[0.3, -1.2, 2.0, 0.7], [5.0, 4.2, 5.9, 4.6]])
def test_the_widened_native_rule_still_catches_a_3e4_relative_error_in_float32(row):
    from tests.corpus.real_style_twins import LAYER_NORM_32

    off = dataclasses.replace(LAYER_NORM_32, function=_LayerNormGradientOff.apply, function_class=_LayerNormGradientOff)
    args = (torch.tensor(row), torch.tensor([1.0, 0.5, 2.0, 1.5]), torch.tensor([0.1, 0.2, 0.3, 0.4]), 1e-5)
    cotangents = (torch.tensor([0.3, -1.0, 0.6, 1.4]),)
    check_vjp_native(LAYER_NORM_32, args=args, cotangents=cotangents)  # the correct twin passes
    with pytest.raises(AssertionError, match="gradient of argument 0"):
        check_vjp_native(off, args=args, cotangents=cotangents)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_an_infinity_where_the_truth_is_past_the_dtypes_range_is_the_exact_rounding(dtype):
    # A classic RMSNorm in float16 (a new user's, from the README): the truth 68,000 is past
    # float16's 65,504, so inf is its correct rounding; native gave NaN there.
    from autograd_props.oracles import overflow_threshold

    limit = overflow_threshold(dtype)
    assert torch.tensor(limit, dtype=torch.float64).to(dtype).isinf() and not torch.tensor(limit * (1 - 1e-3), dtype=torch.float64).to(dtype).isinf()
    truth = torch.tensor([limit * 1.04, -limit * 1.04, 2.0], dtype=torch.float64)
    native = torch.tensor([math.nan, -math.inf, 2.0], dtype=dtype)
    got = torch.tensor([math.inf, -math.inf, 2.0], dtype=dtype)
    assert assert_matches_truth(got, native, truth, truth.abs(), tolerance=(0.0, 0.0), what="g").margin == 0
    # The wrong sign, or an infinity where the truth is within range, still fails.
    for wrong in ([-math.inf, -math.inf, 2.0], [math.inf, -math.inf, math.inf]):
        with pytest.raises(AssertionError, match="out of tolerance"):
            assert_matches_truth(torch.tensor(wrong, dtype=dtype), native, truth, truth.abs(), tolerance=(0.0, 0.0), what="g")


def test_a_zero_tensor_from_autograd_is_compared_as_zeros():
    # sgn's derivative for real inputs is autograd's ZeroTensor (no storage): the comparison
    # must read it as zeros, not raise "ZeroTensors are immutable" on the Function's behalf.
    zero = torch._efficientzerotensor((3,), dtype=torch.float64)
    assert zero._is_zerotensor()
    assert assert_matches_truth(zero, zero, zero, torch.ones(3, dtype=torch.float64), tolerance=(1e-7, 1e-7), what="g").margin == 0.0
    with pytest.raises(ToleranceError):
        assert_matches_truth(zero, torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64),
                             torch.ones(3, dtype=torch.float64), tolerance=(1e-7, 1e-7), what="g")
