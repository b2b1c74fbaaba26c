"""The seed article's regression example, trained through our ``Affine`` Function.

Run it with ``python -m funcs.fit`` (``--help`` lists the options).  The data are the seed's:
``torch.manual_seed(2024)``, 11 integer ``x`` in [-5, 30), ``y = 0.5 x + 30 + N(0, 1)`` noise, and
the model sees ``x * 0.1``, so the true line in model units is ``w = 5, b = 30``.  Starting from
``w = 1, b = 0`` it runs plain gradient descent on the mean squared error (lr 1e-2, 1000 epochs),
logs every 10 epochs, and prints the result beside the closed-form least-squares solution.

The pieces are small functions so that ``properties/test_fit.py`` can reuse them:

* :func:`make_data` -- the seed's data (``x_model, y``) for any seed, size, noise scale, dtype, device;
* :func:`train` -- the training loop, through ``Affine.apply`` (``"custom"``) or plain ``w * x + b``
  under native autograd (``"native"``); returns a :class:`FitResult` with per-epoch history and
  raises :class:`Diverged` instead of handing back a NaN fit;
* :func:`least_squares` -- the closed-form fit in float64;
* :func:`hessian_eigenvalues` / :func:`stable_lr_bound` -- the MSE Hessian's spectrum and the
  largest learning rate for which gradient descent converges.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Callable

import torch

from funcs.affine import Affine

__all__ = [
    "DTYPES",
    "Diverged",
    "FitResult",
    "LogRecord",
    "least_squares",
    "hessian_eigenvalues",
    "main",
    "make_data",
    "stable_lr_bound",
    "train",
]

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}
FUNCTIONS: tuple[str, ...] = ("custom", "native")

DEFAULT_SEED = 2024
DEFAULT_NUM = 11
DEFAULT_EPOCHS = 1000
DEFAULT_LR = 1e-2
LOG_EVERY = 10
DIVERGENCE_FACTOR = 1e6  # a loss this many times the first epoch's loss counts as divergence
X_SCALE = 0.1  # the model sees x * 0.1, so the true line y = 0.5 x + 30 is w = 5, b = 30
TRUE_W, TRUE_B = 5.0, 30.0


# --------------------------------------------------------------------------------------------
# data and closed forms


def make_data(
    num: int = DEFAULT_NUM,
    seed: int = DEFAULT_SEED,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    *,
    noise_scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's data: ``(x_model, y)`` with ``x_model = 0.1 x`` and ``y = 0.5 x + 30 + noise``.

    Exactly as the seed draws them: ``torch.manual_seed(seed)``, then ``x`` (integers in
    [-5, 30)) and then the standard-normal noise, both on the CPU from the default generator;
    only then are they cast and moved to ``dtype``/``device``, where ``y`` and ``x_model`` are
    computed.  The global RNG state is restored afterwards, so calling this has no side effect.
    For float32 the tensors are bit-identical to the seed's.
    """
    if num < 1:
        raise ValueError(f"make_data: num must be >= 1, got {num}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x = torch.randint(low=-5, high=30, size=(num,)).to(torch.float32)
        noise = torch.randn(num)
    x = x.to(device=device, dtype=dtype)
    noise = noise.to(device=device, dtype=dtype)
    y = 0.5 * x + 30 + (noise if noise_scale == 1.0 else noise_scale * noise)
    return x * X_SCALE, y


def _float64_cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(device="cpu", dtype=torch.float64)


def least_squares(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Closed-form least squares ``y ~ w x + b`` in float64 (the centered, stable formula).

    Raises ValueError when all ``x`` are equal: the line is then not unique.
    """
    x, y = _float64_cpu(x), _float64_cpu(y)
    if x.numel() == 0 or bool(x.max() == x.min()):
        raise ValueError("least_squares: all x values are equal, so the fitted line is not unique")
    dx = x - x.mean()
    sxx = float(dx @ dx)
    w = float(dx @ (y - y.mean())) / sxx
    b = float(y.mean()) - w * float(x.mean())
    return w, b


def hessian_eigenvalues(x: torch.Tensor) -> tuple[float, float]:
    """``(lambda_min, lambda_max)`` of the MSE's Hessian ``(2/n) A^T A`` with ``A = [x, 1]``, in float64.

    With ``m`` the mean and ``v`` the (population) variance of ``x`` the Hessian is
    ``2 [[v + m^2, m], [m, 1]]``: trace ``2 (v + m^2 + 1)``, determinant ``4 v``.  ``lambda_min``
    is taken as ``det / lambda_max``, which does not cancel; it is 0 when all ``x`` are equal.
    ``y`` plays no part: a least-squares loss has the same Hessian for every target.
    """
    x = _float64_cpu(x)
    m = float(x.mean())
    # equal x give v = 0 exactly (x - mean need not round to 0), hence lambda_min = 0
    v = 0.0 if bool(x.max() == x.min()) else float(((x - m) ** 2).mean())
    half_trace = v + m * m + 1.0
    lam_max = half_trace + math.sqrt(max(half_trace * half_trace - 4.0 * v, 0.0))
    lam_min = 4.0 * v / lam_max
    return lam_min, lam_max


def stable_lr_bound(x: torch.Tensor) -> float:
    """Gradient descent on the MSE converges iff ``0 < lr < 2 / lambda_max``; this is that bound."""
    return 2.0 / hessian_eigenvalues(x)[1]


# --------------------------------------------------------------------------------------------
# training


def _custom_model(w: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return Affine.apply(w, x, b)


def _native_model(w: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return w * x + b


_MODELS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "custom": _custom_model,
    "native": _native_model,
}


@dataclasses.dataclass(frozen=True)
class LogRecord:
    """One logged epoch: the loss before the update, ``w``/``b`` after it, the update's gradients."""

    epoch: int
    loss: float
    w: float
    b: float
    grad_w: float
    grad_b: float

    def format(self, epoch_width: int = 4) -> str:
        return (
            f"epoch {self.epoch:>{epoch_width}d}  loss {self.loss:12.6f}  w {self.w:10.6f}  b {self.b:10.6f}"
            f"  grad_w {self.grad_w:12.6f}  grad_b {self.grad_b:12.6f}"
        )


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What :func:`train` returns.

    ``w`` and ``b`` are the final parameters as Python floats.  The histories are 1-d CPU
    tensors in the training dtype, one entry per epoch: ``loss[t]`` is the loss of epoch
    ``t + 1`` (at the parameters before its update), ``w_history[t]``/``b_history[t]`` the
    parameters after that update, and ``grad_w[t]``/``grad_b[t]`` the gradients it used.
    """

    w: float
    b: float
    epochs: int
    lr: float
    function: str
    loss: torch.Tensor
    w_history: torch.Tensor
    b_history: torch.Tensor
    grad_w: torch.Tensor
    grad_b: torch.Tensor

    @property
    def final_loss(self) -> float:
        """The last epoch's loss (measured before its update), or NaN for zero epochs."""
        return float(self.loss[-1]) if self.epochs else math.nan


class Diverged(ArithmeticError):
    """Training diverged: the loss became non-finite or grew past ``DIVERGENCE_FACTOR`` times its start.

    ``epoch`` is the first offending epoch (1-based), ``loss`` its loss, and ``result`` the
    history up to the point where training stopped (its ``w``/``b`` are not a fit).
    """

    def __init__(self, epoch: int, loss: float, lr: float, result: FitResult) -> None:
        self.epoch = epoch
        self.loss = loss
        self.lr = lr
        self.result = result
        super().__init__(f"training diverged at epoch {epoch} (loss {loss:.6g}) with lr {lr:g}")


def _first_bad_epoch(history: torch.Tensor, start: int, stop: int, limit: float) -> int | None:
    """The first 0-based epoch in ``[start, stop)`` whose record is non-finite or whose loss is past ``limit``."""
    block = history[start:stop]
    bad = ~torch.isfinite(block).all(dim=1) | (block[:, 0] > limit)
    if not bool(bad.any()):
        return None
    return start + int(torch.nonzero(bad)[0, 0])


def train(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    function: str = "custom",
    w0: float = 1.0,
    b0: float = 0.0,
    log: Callable[[LogRecord], None] | None = None,
    log_every: int = LOG_EVERY,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> FitResult:
    """Fit ``y ~ w x + b`` by plain gradient descent on the mean squared error, as the seed does.

    Per epoch: forward (``Affine.apply(w, x, b)`` or native ``w * x + b``), ``loss.backward()``,
    ``w -= lr * w.grad; b -= lr * b.grad`` under ``no_grad``, log every ``log_every`` epochs,
    zero the gradients.  ``w`` and ``b`` are 0-d leaf tensors of ``x``'s dtype and device.

    Divergence is checked every ``log_every`` epochs and at the end (one host sync per check,
    not per epoch): if any epoch's loss, parameters or gradients are non-finite, or its loss
    exceeds ``divergence_factor`` times the first epoch's loss, :class:`Diverged` is raised
    naming the first such epoch -- a NaN fit is never returned.
    """
    if function not in _MODELS:
        raise ValueError(f"train: function must be one of {FUNCTIONS}, got {function!r}")
    if epochs < 0:
        raise ValueError(f"train: epochs must be >= 0, got {epochs}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"train: lr must be a positive finite number, got {lr!r}")
    if x.shape != y.shape or x.dim() != 1:
        raise ValueError(f"train: x and y must be 1-d of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if log_every < 1:
        raise ValueError(f"train: log_every must be >= 1, got {log_every}")
    model = _MODELS[function]
    dtype, device = x.dtype, x.device
    w = torch.tensor(w0, dtype=dtype, device=device, requires_grad=True)
    b = torch.tensor(b0, dtype=dtype, device=device, requires_grad=True)
    # one row per epoch: loss (before the update), w, b (after it), grad_w, grad_b
    history = torch.empty((epochs, 5), dtype=dtype, device=device)
    limit = math.inf
    checked = 0  # epochs [0, checked) have passed the divergence check

    def result(upto: int) -> FitResult:
        h = history[:upto].cpu()
        return FitResult(
            w=float(w.detach()),
            b=float(b.detach()),
            epochs=upto,
            lr=lr,
            function=function,
            loss=h[:, 0],
            w_history=h[:, 1],
            b_history=h[:, 2],
            grad_w=h[:, 3],
            grad_b=h[:, 4],
        )

    def check(upto: int) -> None:
        nonlocal checked, limit
        if upto <= checked:
            return
        if checked == 0:
            limit = divergence_factor * float(history[0, 0])
            if not math.isfinite(limit):  # a non-finite first loss is caught below
                limit = math.inf
        bad = _first_bad_epoch(history, checked, upto, limit)
        if bad is not None:
            raise Diverged(bad + 1, float(history[bad, 0]), lr, result(upto))
        checked = upto

    for epoch in range(1, epochs + 1):
        loss = ((model(w, x, b) - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
            history[epoch - 1] = torch.stack((loss, w, b, w.grad, b.grad))
        if epoch % log_every == 0:
            check(epoch)
            if log is not None:
                log(LogRecord(epoch, *(float(v) for v in history[epoch - 1])))
        w.grad.zero_()
        b.grad.zero_()
    check(epochs)
    return result(epochs)


# --------------------------------------------------------------------------------------------
# command line


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m funcs.fit",
        description=(
            "Fit the seed article's line y = 0.5 x + 30 (w = 5, b = 30 in model units, x * 0.1) by "
            "gradient descent through the custom Affine Function, and compare with least squares."
        ),
    )
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="training epochs, >= 0 (default %(default)s)")
    parser.add_argument("--lr", type=_float, default=DEFAULT_LR, help="learning rate, > 0 (default %(default)s)")
    parser.add_argument("--num", type=int, default=DEFAULT_NUM, help="number of data points, >= 2 (default %(default)s)")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="torch.manual_seed for the data (default %(default)s)"
    )
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32", help="default %(default)s")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default %(default)s)")
    parser.add_argument(
        "--function",
        choices=FUNCTIONS,
        default="custom",
        help="custom: Affine.apply; native: plain w * x + b under autograd (default %(default)s)",
    )
    parser.add_argument(
        "--plot", metavar="PATH", help="save a PNG with the loss curve and the fitted line (needs matplotlib)"
    )
    return parser


def _check_device(parser: argparse.ArgumentParser, text: str, dtype: torch.dtype) -> torch.device:
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError) as err:
        parser.error(f"argument --device: {text!r} is not a torch device ({err})")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"argument --device: {text!r} is not available: torch.cuda.is_available() is False on this machine")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            parser.error(f"argument --device: {text!r} is not available: torch.backends.mps.is_available() is False")
    try:
        torch.zeros(1, device=device).cpu()  # also rules out data-less devices such as meta
    except Exception as err:  # unavailable index, backend not compiled in, no data, ...
        parser.error(f"argument --device: {text!r} is not available: {err}")
    try:
        torch.zeros(1, dtype=dtype, device=device).cpu()
    except Exception as err:  # e.g. float64 on mps
        parser.error(f"argument --dtype: {dtype} is not supported on device {text!r}: {err}")
    return device


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> torch.device:
    if args.epochs < 0:
        parser.error(f"argument --epochs: must be >= 0, got {args.epochs}")
    if args.num < 2:
        parser.error(f"argument --num: at least 2 points are needed to fit a line, got {args.num}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        parser.error(f"argument --lr: must be a positive finite number, got {args.lr!r}")
    if not (-(2**63) <= args.seed < 2**64):
        parser.error(f"argument --seed: must fit in 64 bits, got {args.seed}")
    if args.plot is not None:
        parent = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(parent):
            parser.error(f"argument --plot: directory {parent!r} does not exist")
    return _check_device(parser, args.device, DTYPES[args.dtype])


def _import_matplotlib():
    """The Agg canvas and Figure class, imported only when --plot asks (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return FigureCanvasAgg, Figure


def _plot(path: str, x: torch.Tensor, y: torch.Tensor, fit: FitResult, ls: tuple[float, float] | None, title: str) -> None:
    FigureCanvasAgg, Figure = _import_matplotlib()
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_line = fig.subplots(1, 2)

    epochs = torch.arange(1, fit.epochs + 1)
    ax_loss.plot(epochs.numpy(), fit.loss.double().numpy(), color="tab:blue")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("MSE loss")
    ax_loss.set_title("loss per epoch")
    ax_loss.grid(True, which="both", alpha=0.3)

    xs, ys = _float64_cpu(x), _float64_cpu(y)
    ax_line.scatter(xs.numpy(), ys.numpy(), color="black", s=18, label="data", zorder=3)
    grid = torch.linspace(float(xs.min()), float(xs.max()), 2, dtype=torch.float64)
    ax_line.plot(
        grid.numpy(),
        (fit.w * grid + fit.b).numpy(),
        color="tab:red",
        label=f"gradient descent: w={fit.w:.4f}, b={fit.b:.4f}",
    )
    if ls is not None:
        ax_line.plot(
            grid.numpy(),
            (ls[0] * grid + ls[1]).numpy(),
            color="tab:green",
            linestyle="--",
            label=f"least squares: w={ls[0]:.4f}, b={ls[1]:.4f}",
        )
    ax_line.set_xlabel("x * 0.1")
    ax_line.set_ylabel("y")
    ax_line.set_title("fitted line")
    ax_line.legend(loc="best", fontsize="small")
    ax_line.grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    """Run the fit from the command line; returns the exit status (0 ok, 1 diverged or failed)."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    device = _validate(parser, args)
    if args.plot is not None:
        try:
            _import_matplotlib()
        except ImportError as err:
            print(
                f"error: --plot needs matplotlib, which cannot be imported ({err}); pip install matplotlib",
                file=sys.stderr,
            )
            return 1

    dtype = DTYPES[args.dtype]
    x, y = make_data(args.num, args.seed, dtype, device)
    lam_min, lam_max = hessian_eigenvalues(x)
    bound = 2.0 / lam_max
    try:
        ls = least_squares(x, y)
    except ValueError:
        ls = None
    print(
        f"fitting y = w * (x * 0.1) + b to {args.num} points (seed {args.seed}) with the {args.function} function, "
        f"{args.dtype} on {device}, lr {args.lr:g}, {args.epochs} epochs"
    )
    width = max(4, len(str(args.epochs)))

    def log(record: LogRecord) -> None:
        print(record.format(width))

    try:
        fit = train(x, y, epochs=args.epochs, lr=args.lr, function=args.function, log=log)
    except Diverged as err:
        print(
            f"error: training diverged at epoch {err.epoch}: loss {err.loss:.6g} "
            f"(non-finite or more than {DIVERGENCE_FACTOR:g} times the first epoch's loss) with lr {args.lr:g}.\n"
            f"Gradient descent on this MSE is stable only for lr < 2 / lambda_max = {bound:.6g} "
            f"(lambda_max = {lam_max:.6g} is the largest eigenvalue of the Hessian (2/n) A^T A, A = [x * 0.1, 1]); "
            f"use a smaller --lr, e.g. {1.0 / lam_max:.4g}.",
            file=sys.stderr,
        )
        return 1
    if args.epochs and args.lr >= bound and not fit.final_loss <= float(fit.loss[0]):
        print(
            f"error: training did not converge: the loss grew from {float(fit.loss[0]):.6g} to {fit.final_loss:.6g} "
            f"because lr {args.lr:g} is not below the stability bound 2 / lambda_max = {bound:.6g}; "
            f"use a smaller --lr, e.g. {1.0 / lam_max:.4g}.",
            file=sys.stderr,
        )
        return 1

    if args.plot is not None:
        title = f"seed {args.seed}, {args.num} points, {args.function} {args.dtype}, lr {args.lr:g}, {args.epochs} epochs"
        try:
            _plot(args.plot, x, y, fit, ls, title)
        except (OSError, ValueError) as err:
            print(f"error: could not write the plot to {args.plot!r}: {err}", file=sys.stderr)
            return 1
        print(f"plot written to {args.plot}")

    if ls is None:
        ls_text = "least squares (float64): not unique, all x are equal"
    else:
        ls_text = f"least squares (float64)  w {ls[0]:.6f}  b {ls[1]:.6f}"
    print(f"final  w {fit.w:.6f}  b {fit.b:.6f}   |   {ls_text}   |   true  w {TRUE_W:g}  b {TRUE_B:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
