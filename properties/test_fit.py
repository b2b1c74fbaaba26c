"""The seed's regression example (``funcs/fit.py``) as properties.

Over Hypothesis-drawn seeds, point counts, noise scales and dtypes, on every available device:

1. training through the custom ``Affine`` Function and through native autograd gives the same
   losses, parameters and gradients at every epoch;
2. gradient descent converges to the closed-form least-squares solution, inside a bound derived
   from the problem's Hessian spectrum and the dtype's rounding (see :func:`convergence_bound`);
3. the least-squares solution lies within a few standard errors of the true line w = 5, b = 30;

plus the seed's own run (seed 2024, 11 points, lr 1e-2, 1000 epochs, float32) and the command
line (bad arguments, divergence, ``--plot``).

Each training example picks its step size and epoch count from the problem (lr near the optimal
``2 / (lambda_min + lambda_max)``), so an example costs tens of epochs, not the seed's 1000.
The training tests set ``deadline=None``: an example's run time depends on the drawn problem's
conditioning by design (up to ``MAX_EPOCHS`` epochs).
"""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd_props import DEFAULT_TOLERANCES, available_devices
from funcs import fit
from funcs.fit import (
    Diverged,
    FitResult,
    hessian_eigenvalues,
    least_squares,
    main,
    make_data,
    train,
)

DEVICES = available_devices()
DTYPES = tuple(fit.DTYPES.values())
MAX_EPOCHS = 2000  # cap for the convergence property; ill-conditioned draws get a looser (still derived) bound
COMPARE_EPOCHS = 100  # epochs for the custom-vs-native comparison
STANDARD_ERRORS = 5.0  # a two-sided 5-sigma miss has probability 5.7e-7 per coefficient per example


seeds = st.integers(min_value=0, max_value=2**32 - 1)
point_counts = st.integers(min_value=3, max_value=300)
noise_scales = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=2.0))
dtypes = st.sampled_from(DTYPES)


def _data(num: int, seed: int, noise: float, dtype: torch.dtype, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    assume(not (device == "mps" and dtype == torch.float64))  # mps has no float64
    x, y = make_data(num, seed, dtype, device, noise_scale=noise)
    # a line needs two distinct x; with >= 3 uniform draws from 35 integers this rejects ~1/1000
    assume(bool(x.max() != x.min()))
    return x, y


def _f64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(device="cpu", dtype=torch.float64)


def _unit_roundoff(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps / 2


def _gamma(k: int, u: float) -> float:
    """Higham's gamma_k = k u / (1 - k u): the relative error bound of k chained roundings."""
    return k * u / (1 - k * u)


def _rounded(value: float, dtype: torch.dtype) -> float:
    """``value`` as ``dtype`` stores it (a Python-float lr is rounded to the tensors' dtype in ``lr * grad``)."""
    return float(torch.tensor(value, dtype=dtype))


def _gradient_error(x: torch.Tensor, y: torch.Tensor, w_mag: float, b_mag: float, u: float) -> float:
    """Bound on ||computed MSE gradient - exact gradient||_2 at any |w| <= w_mag, |b| <= b_mag.

    Each summand of ``grad_w = (2/n) sum d_i x_i`` (``d_i = w x_i + b - y_i``) passes through 6
    roundings (``w*x``, ``+b``, ``-y``, the mean's ``1/n``, pow's ``2 d * grad``, ``* x``), and a
    sum of n terms in any order adds at most n - 1 more (Higham, Thm 4.4 / any summation tree),
    so every term carries a relative error of at most gamma_{n+5} of its magnitude
    ``(w_mag |x_i| + b_mag + |y_i|) |x_i|``; ``grad_b`` likewise without the ``|x_i|``.
    """
    x, y = _f64(x), _f64(y)
    n = x.numel()
    r = w_mag * x.abs() + b_mag + y.abs()
    s_w = float(2.0 / n * (r * x.abs()).sum())
    s_b = float(2.0 / n * r.sum())
    return _gamma(n + 5, u) * math.hypot(s_w, s_b)


def _reference_error(x: torch.Tensor, y: torch.Tensor, w_ref: float, b_ref: float, lam_min: float) -> float:
    """A-posteriori bound on ||theta_ref - theta*||_2 for the float64 least-squares solution.

    The MSE gradient is ``g(theta) = H (theta - theta*)``, so ``||theta - theta*|| <= ||g|| / lambda_min``;
    ``g(theta_ref)`` is evaluated in float64 and its own rounding added.
    """
    x64, y64 = _f64(x), _f64(y)
    d = w_ref * x64 + b_ref - y64
    g = math.hypot(float(2.0 * (d * x64).mean()), float(2.0 * d.mean()))
    return (g + _gradient_error(x, y, abs(w_ref), abs(b_ref), _unit_roundoff(torch.float64))) / lam_min


@dataclasses.dataclass(frozen=True)
class ConvergenceBound:
    """``||theta_t - theta_ref||_2 <= rho**t * e0 + floor`` for every epoch t (see :func:`convergence_bound`)."""

    lr: float
    rho: float
    e0: float
    floor: float
    lam_min: float
    lam_max: float

    def at(self, t: torch.Tensor) -> torch.Tensor:
        return self.rho ** t.to(torch.float64) * self.e0 + self.floor

    def epochs_to_floor(self, cap: int) -> int:
        """The first T with ``rho**T * e0 <= floor`` (so the bound is at most 2 floor), capped."""
        if self.e0 <= self.floor:
            return 1
        if self.rho <= 0.0:
            return 1
        if self.rho >= 1.0:
            return cap
        return max(1, min(cap, math.ceil(math.log(self.floor / self.e0) / math.log(self.rho))))


def convergence_bound(
    x: torch.Tensor,
    y: torch.Tensor,
    lr: float,
    theta0: tuple[float, float],
    theta_ref: tuple[float, float],
) -> ConvergenceBound:
    """The derived bound on the distance between gradient descent's iterates and least squares.

    Exact arithmetic.  The MSE is the quadratic ``f(theta) = (1/n) ||A theta - y||^2`` with
    ``A = [x, 1]``; its Hessian ``H = (2/n) A^T A`` is symmetric with eigenvalues
    ``0 < lambda_min <= lambda_max`` and the gradient is ``H (theta - theta*)``.  One step gives
    ``e_{t+1} = (I - lr H) e_t`` for ``e_t = theta_t - theta*``; ``I - lr H`` is symmetric with
    eigenvalues ``1 - lr lambda_i``, so in the 2-norm (the Hessian's eigenbasis is orthonormal)
    ``||e_t|| <= rho^t ||e_0||`` with ``rho = max_i |1 - lr lambda_i|`` (< 1 iff lr < 2/lambda_max;
    smallest, ``(kappa-1)/(kappa+1)``, at ``lr = 2/(lambda_min + lambda_max)``).

    Rounding.  The dtype's iteration is the exact one plus a perturbation ``delta`` per step,
    and a perturbation made at step s has shrunk by ``rho^(t-s)`` at step t, so
    ``||e_t|| <= rho^t ||e_0|| + delta / (1 - rho)``.  Per step,
    ``delta <= lr * dg + gamma_2 * (lr ||g|| + ||theta||)``: ``dg`` bounds the gradient's rounding
    error (:func:`_gradient_error`, about ``(n + 5) u`` times the size of the summands -- the
    problem's scale), and ``gamma_2`` covers rounding ``lr * grad`` and the subtraction.  The
    iterates stay within ``||e_0||`` of ``theta*`` (to first order), so
    ``|w| <= |w*| + ||e_0||``, ``|b| <= |b*| + ||e_0||`` and ``||g|| <= lambda_max ||e_0||``.  Because
    ``lr / (1 - rho) = 1 / lambda_min`` at the optimal lr, the floor is about
    ``(n + 5) u * scale * kappa / lambda_max``: eps times scale times condition number.

    Reference.  ``theta_ref`` is least squares computed in float64; its distance to the exact
    ``theta*`` (:func:`_reference_error`) is added to both ``e0`` and the floor.
    """
    lam_min, lam_max = hessian_eigenvalues(x)
    u = _unit_roundoff(x.dtype)
    rho = max(abs(1.0 - lr * lam_min), abs(1.0 - lr * lam_max))
    ref_err = _reference_error(x, y, *theta_ref, lam_min)
    e0 = math.hypot(theta0[0] - theta_ref[0], theta0[1] - theta_ref[1]) + ref_err
    w_mag, b_mag = abs(theta_ref[0]) + e0, abs(theta_ref[1]) + e0
    dg = _gradient_error(x, y, w_mag, b_mag, u)
    delta = lr * dg + _gamma(2, u) * (lr * (lam_max * e0 + dg) + math.hypot(w_mag, b_mag))
    floor = (delta / (1.0 - rho) if rho < 1.0 else math.inf) + ref_err
    return ConvergenceBound(lr=lr, rho=rho, e0=e0, floor=floor, lam_min=lam_min, lam_max=lam_max)


def optimal_lr(x: torch.Tensor) -> float:
    """``2 / (lambda_min + lambda_max)``, rounded to x's dtype (the value the update really uses)."""
    lam_min, lam_max = hessian_eigenvalues(x)
    return _rounded(2.0 / (lam_min + lam_max), x.dtype)


# ---------------------------------------------------------------------------------------------
# 1. custom Function == native autograd, epoch by epoch


def _series(result: FitResult) -> dict[str, torch.Tensor]:
    return {
        "loss": result.loss,
        "w": result.w_history,
        "b": result.b_history,
        "grad_w": result.grad_w,
        "grad_b": result.grad_b,
    }


def _comparison_atols(x: torch.Tensor, y: torch.Tensor, native: FitResult, atol: float) -> dict[str, float]:
    """torch.testing's default atol scaled to the size of the terms each quantity is built from.

    Losses and gradients shrink towards 0 by cancellation of terms of size
    ``r_i = |w x_i| + |b| + |y_i|``, so an absolute tolerance must be relative to those terms
    (``mean r^2`` for the loss, ``2 mean r (|x| + 1)`` for the gradients), not to the result.
    """
    x64, y64 = _f64(x), _f64(y)
    w_mag = max([1.0] + native.w_history.abs().tolist())
    b_mag = max([0.0] + native.b_history.abs().tolist())
    r = w_mag * x64.abs() + b_mag + y64.abs()
    loss_scale = float((r * r).mean())
    grad_scale = float(2.0 * (r * (x64.abs() + 1.0)).mean())
    return {"loss": atol * loss_scale, "w": atol, "b": atol, "grad_w": atol * grad_scale, "grad_b": atol * grad_scale}


@pytest.mark.parametrize("device", DEVICES)
@settings(deadline=None)
@given(
    seed=seeds,
    num=point_counts,
    noise=noise_scales,
    dtype=dtypes,
    lr_fraction=st.floats(min_value=0.01, max_value=1.5),
)
def test_fit_custom_matches_native(device, seed, num, noise, dtype, lr_fraction):
    """Training through ``Affine.apply`` and through ``w * x + b`` agree at every epoch.

    The step is ``lr_fraction`` times the stability bound ``2 / lambda_max``: slow, fast,
    oscillating and (above 1) diverging runs; a diverging pair must diverge at the same epoch.
    """
    x, y = _data(num, seed, noise, dtype, device)
    lr = _rounded(lr_fraction * fit.stable_lr_bound(x), dtype)
    outcomes = []
    for function in ("custom", "native"):
        try:
            outcomes.append(train(x, y, epochs=COMPARE_EPOCHS, lr=lr, function=function))
        except Diverged as err:
            outcomes.append(err)
    custom, native = outcomes
    if isinstance(custom, Diverged) or isinstance(native, Diverged):
        assert isinstance(custom, Diverged) and isinstance(native, Diverged), f"only one diverged: {custom!r} vs {native!r}"
        assert custom.epoch == native.epoch, f"diverged at epoch {custom.epoch} (custom) vs {native.epoch} (native)"
        assert lr_fraction > 1.0, f"diverged below the stability bound (lr = {lr_fraction} x 2/lambda_max)"
        custom, native = custom.result, native.result
    rtol, atol = DEFAULT_TOLERANCES[dtype]
    atols = _comparison_atols(x, y, native, atol)
    for name, c in _series(custom).items():
        n = _series(native)[name]
        torch.testing.assert_close(
            c, n, rtol=rtol, atol=atols[name], equal_nan=True, msg=lambda m, name=name: f"{name}, custom vs native: {m}"
        )
    if lr_fraction < 1.0:  # a stable step never leaves the loss above where it started
        assert float(custom.loss[-1]) <= float(custom.loss[0]) * (1 + rtol) + atols["loss"]


# ---------------------------------------------------------------------------------------------
# 2. gradient descent converges to least squares within the derived bound


@pytest.mark.parametrize("device", DEVICES)
@settings(deadline=None)
@given(seed=seeds, num=point_counts, noise=noise_scales, dtype=dtypes)
def test_fit_converges_to_least_squares(device, seed, num, noise, dtype):
    """Every epoch's (w, b) is within ``rho^t e0 + floor`` of least squares (derivation:
    :func:`convergence_bound`), with lr = 2/(lambda_min + lambda_max) and as many epochs as it
    takes for ``rho^T e0`` to fall below the floor (capped at ``MAX_EPOCHS``)."""
    x, y = _data(num, seed, noise, dtype, device)
    w_ref, b_ref = least_squares(x, y)
    lr = optimal_lr(x)
    w0, b0 = 1.0, 0.0
    bound = convergence_bound(x, y, lr, (w0, b0), (w_ref, b_ref))
    assert bound.rho < 1.0, f"lr {lr} is not below 2/lambda_max = {2 / bound.lam_max}"
    epochs = bound.epochs_to_floor(MAX_EPOCHS)
    result = train(x, y, epochs=epochs, lr=lr, function="custom", w0=w0, b0=b0)

    t = torch.arange(1, epochs + 1)
    error = torch.hypot(_f64(result.w_history) - w_ref, _f64(result.b_history) - b_ref)
    allowed = bound.at(t)
    worst = int(torch.argmax(error / allowed))
    assert bool((error <= allowed).all()), (
        f"epoch {worst + 1}: ||(w, b) - least squares|| = {float(error[worst]):.3e} exceeds the bound "
        f"{float(allowed[worst]):.3e} (rho {bound.rho:.6f}, e0 {bound.e0:.3e}, floor {bound.floor:.3e}, "
        f"lambda {bound.lam_min:.4g}..{bound.lam_max:.4g}, lr {lr:.6g})"
    )
    if epochs < MAX_EPOCHS:  # not capped: the schedule reached the floating-point floor
        assert float(error[-1]) <= 2 * bound.floor


# ---------------------------------------------------------------------------------------------
# 3. least squares recovers the true line within a few standard errors


@pytest.mark.parametrize("device", DEVICES)
@given(seed=seeds, num=point_counts, noise=noise_scales, dtype=dtypes)
def test_fit_least_squares_near_true_line(device, seed, num, noise, dtype):
    """|w_ls - 5| <= k se_w + slack and |b_ls - 30| <= k se_b + slack, k = ``STANDARD_ERRORS``.

    OLS with known noise sd sigma: ``se_w = sigma / sqrt(Sxx)``,
    ``se_b = sigma sqrt(1/n + mean(x)^2 / Sxx)``, ``Sxx = sum (x - mean x)^2``.  The slack is
    rounding only: the data carry errors ``|e_i| <= gamma_2 (2 |y_i| + 15 |x_i| + 30)`` from
    ``x * 0.1``, ``noise * sigma`` and the final add, which move least squares by at most
    ``||e||_2 / sigma_min(A)`` with ``sigma_min(A)^2 = n lambda_min / 2``; plus the float64
    solution's own error.  With sigma = 0 this says the fit is exact up to rounding.
    """
    x, y = _data(num, seed, noise, dtype, device)
    w_ls, b_ls = least_squares(x, y)
    x64, y64 = _f64(x), _f64(y)
    n = x64.numel()
    sigma = _rounded(noise, dtype)
    mean_x = float(x64.mean())
    sxx = float(((x64 - mean_x) ** 2).sum())
    se_w = sigma / math.sqrt(sxx)
    se_b = sigma * math.sqrt(1.0 / n + mean_x**2 / sxx)
    lam_min, _ = hessian_eigenvalues(x)
    e = _gamma(2, _unit_roundoff(dtype)) * (2 * y64.abs() + 15 * x64.abs() + 30)
    slack = float(e.norm()) / math.sqrt(n * lam_min / 2) + _reference_error(x, y, w_ls, b_ls, lam_min)
    assert abs(w_ls - fit.TRUE_W) <= STANDARD_ERRORS * se_w + slack, (
        f"w_ls = {w_ls:.6f} is {abs(w_ls - fit.TRUE_W) / se_w if se_w else math.inf:.2f} standard errors "
        f"(se {se_w:.3g}, slack {slack:.3g}) from 5"
    )
    assert abs(b_ls - fit.TRUE_B) <= STANDARD_ERRORS * se_b + slack, (
        f"b_ls = {b_ls:.6f} is {abs(b_ls - fit.TRUE_B) / se_b if se_b else math.inf:.2f} standard errors "
        f"(se {se_b:.3g}, slack {slack:.3g}) from 30"
    )


# ---------------------------------------------------------------------------------------------
# 4. the seed's own run


@pytest.fixture(scope="module")
def seed_runs() -> dict[str, FitResult]:
    x, y = make_data(fit.DEFAULT_NUM, fit.DEFAULT_SEED, torch.float32, "cpu")
    return {f: train(x, y, epochs=fit.DEFAULT_EPOCHS, lr=fit.DEFAULT_LR, function=f) for f in ("custom", "native")}


def test_fit_seed_case(seed_runs):
    """Seed 2024, 11 points, lr 1e-2, 1000 epochs, float32 on the CPU: near the true line and least squares."""
    x, y = make_data(fit.DEFAULT_NUM, fit.DEFAULT_SEED, torch.float32, "cpu")
    w_ls, b_ls = least_squares(x, y)
    custom, native = seed_runs["custom"], seed_runs["native"]
    assert abs(custom.w - 5.0) <= 0.25 and abs(custom.b - 30.0) <= 0.1, (custom.w, custom.b)
    assert abs(custom.w - w_ls) <= 1e-2 and abs(custom.b - b_ls) <= 1e-2, (custom.w, custom.b, w_ls, b_ls)
    rtol, atol = DEFAULT_TOLERANCES[torch.float32]
    atols = _comparison_atols(x, y, native, atol)
    for name, c in _series(custom).items():
        torch.testing.assert_close(c, _series(native)[name], rtol=rtol, atol=atols[name])
    assert custom.w == pytest.approx(native.w, rel=rtol) and custom.b == pytest.approx(native.b, rel=rtol)


def test_fit_seed_reproduces_published_figures(seed_runs):
    """The figures this project documents for torch 2.13 on the CPU (a change in torch's RNG shows here)."""
    x, y = make_data(fit.DEFAULT_NUM, fit.DEFAULT_SEED, torch.float32, "cpu")
    assert x.mul(10).round().tolist() == [22, -5, 19, 0, 23, 0, 20, 6, -2, 4, 22]
    w_ls, b_ls = least_squares(x, y)
    assert (round(w_ls, 4), round(b_ls, 4)) == (4.8243, 29.9812)
    result = seed_runs["custom"]
    assert (round(result.w, 4), round(result.b, 4)) == (4.8267, 29.9770)


# ---------------------------------------------------------------------------------------------
# the command line


def _unavailable_device() -> str:
    return "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "-1"], "--epochs: must be >= 0"),
        (["--num", "1"], "--num: at least 2 points"),
        (["--lr", "0"], "--lr: must be a positive"),
        (["--lr", "-0.1"], "--lr: must be a positive"),
        (["--lr", "nan"], "--lr: must be a positive"),
        (["--dtype", "float16"], "--dtype: invalid choice"),
        (["--device", "banana"], "--device: 'banana' is not a torch device"),
        (["--device", _unavailable_device()], "is not available"),
        (["--function", "jit"], "--function: invalid choice"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_fit_main_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_fit_main_reports_divergence(capsys):
    assert main(["--lr", "10"]) == 1
    out, err = capsys.readouterr()
    x, _ = make_data()
    assert "diverged at epoch" in err and "smaller --lr" in err, err
    assert f"2 / lambda_max = {fit.stable_lr_bound(x):.6g}" in err, err
    assert "final" not in out and "nan" not in out.lower(), out


def test_fit_main_default_run(capsys):
    lines = {}
    for function in ("custom", "native"):
        assert main(["--function", function]) == 0
        out = capsys.readouterr().out.splitlines()
        assert sum(line.startswith("epoch ") for line in out) == fit.DEFAULT_EPOCHS // fit.LOG_EVERY
        lines[function] = out[-1]
    assert lines["custom"] == lines["native"]
    numbers = re.fullmatch(
        r"final  w (\S+)  b (\S+)   \|   least squares \(float64\)  w (\S+)  b (\S+)   \|   true  w 5  b 30",
        lines["custom"],
    )
    assert numbers, lines["custom"]
    assert [round(float(v), 4) for v in numbers.groups()] == [4.8267, 29.9770, 4.8243, 29.9812], lines["custom"]


def test_fit_main_plot_writes_png(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib, which is not importable here")
    path = tmp_path / "fit.png"
    assert main(["--epochs", "200", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot written to {path}" in capsys.readouterr().out


def test_fit_main_plot_without_matplotlib(tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)  # makes ``import matplotlib...`` raise ImportError
    assert main(["--epochs", "10", "--plot", str(tmp_path / "fit.png")]) == 1
    assert "pip install matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "fit.png").exists()


def test_fit_module_entry_point_exit_code():
    """``python -m funcs.fit`` passes main()'s status to the shell (one subprocess: torch import ~2 s)."""
    proc = subprocess.run(
        [sys.executable, "-m", "funcs.fit", "--lr", "10", "--epochs", "20"], capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 1, proc.stderr
    assert "diverged at epoch" in proc.stderr
