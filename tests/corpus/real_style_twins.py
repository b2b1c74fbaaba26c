"""Correct Functions in the styles public code is written in, one for each kind of false alarm the
gate raised on code it did not write.  Each must pass, and its property must say what it saw
(``NOTES``: the note the report must carry for it).

They are twins like those in ``twins.py``: the planted bugs of the same kinds derive from them.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from torch.autograd.function import once_differentiable

from autograd_props import FunctionSpec, broadcastable_shapes, dims, elements, keywords, shapes, tensors
from autograd_props.compat import TORCH_VERSION
from funcs.exp import SPEC as EXP


def _one(dtype: torch.dtype, device: torch.device):
    return tensors(dtype=dtype, device=device).map(lambda x: (x,))


# --- 1. the classic style: forward(ctx, ...), no setup_context, no jvp, no vmap rule ------------
class ClassicSoftplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.sigmoid(x)


CLASSIC_SOFTPLUS = FunctionSpec(name="classic_softplus", function=ClassicSoftplus.apply, reference=F.softplus, args=_one)


# --- 2. gradient reversal returning a view of its input (DANN's layer, copied widely) -----------
class ReverseLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.neg() * ctx.alpha, None


def reverse_layer_reference(x: torch.Tensor, alpha: float) -> torch.Tensor:
    z = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
    return torch.add(x.detach(), z - z.detach(), alpha=-alpha)


REVERSE_LAYER = FunctionSpec(
    name="reverse_layer_view",
    function=ReverseLayer.apply,
    reference=reverse_layer_reference,
    args=lambda dtype, device: st.tuples(tensors(dtype=dtype, device=device), st.floats(0.1, 2.0)),
    surrogate_gradient="gradient reversal: backward is -alpha times the identity's gradient by design",
)


# --- 3a. a reference whose float64 gradient is NaN where the Function's is right ----------------
class StableSoftplus(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.sigmoid(x)


def thresholded_softplus(x: torch.Tensor) -> torch.Tensor:
    """Softplus as often written by hand: above 20 the identity.  The unselected branch's exp
    overflows past x = 709, and autograd gives 0 * inf = NaN there, in float64 too."""
    return torch.where(x > 20, x, torch.log1p(torch.exp(x)))


WHERE_REFERENCE = FunctionSpec(name="softplus_where_reference", function=StableSoftplus.apply, reference=thresholded_softplus, args=_one)


# --- 3b. a reference with no double backward: a multi-class hinge loss -------------------------
class MultiMarginLoss(torch.autograd.Function):
    """mean_n sum_{i != y_n} max(0, 1 - x[n, y_n] + x[n, i]) / C, with a hand-written backward."""

    @staticmethod
    def forward(ctx, x, y):
        n, c = x.shape
        z = 1 - x.gather(1, y[:, None]) + x
        hinge = torch.where(z > 0, z, torch.zeros_like(z)).scatter(1, y[:, None], 0.0)  # NaN z counts 0, as native
        ctx.save_for_backward(x, y)
        return hinge.sum() / (c * n)

    @staticmethod
    def backward(ctx, grad_output):
        x, y = ctx.saved_tensors
        n, c = x.shape
        active = ((1 - x.gather(1, y[:, None]) + x) > 0).scatter(1, y[:, None], False).to(x.dtype)
        grad = active.scatter(1, y[:, None], -active.sum(1, keepdim=True))
        return grad * (grad_output / (c * n)), None


@st.composite
def _margin_args(draw, dtype: torch.dtype, device: torch.device):
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = draw(tensors(dtype=dtype, device=device, shape=(n, c), elements_strategy=elements(dtype, max_abs=100.0)))
    y = torch.tensor(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), device=device)
    return (x, y)


MULTI_MARGIN = FunctionSpec(
    name="multi_margin_loss",
    function=MultiMarginLoss.apply,
    reference=F.multi_margin_loss,
    args=_margin_args,
    dtypes=(torch.float64, torch.float32),  # native multi_margin_loss has no 16-bit CPU kernel
    opt_outs={"extreme_values": "1 - x[y] + x[i] overflows for values beyond sqrt(max), where native's kernel sums in another order"},
)


# --- 4. a layer norm computed in float32 itself, not widened: native is lucky at some elements --
class LayerNorm32(torch.autograd.Function):
    """Layer norm over the last dimension, in the input's dtype (float16/bfloat16 in float32),
    with the textbook backward.  Its rounding is as good as native's over the tensor, but not
    element by element: where the gradient cancels, native's order is luckier at some elements."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        xc = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        mean = xc.mean(-1, keepdim=True)
        rstd = torch.rsqrt((xc - mean).pow(2).mean(-1, keepdim=True) + eps)
        x_hat = (xc - mean) * rstd
        ctx.save_for_backward(x, weight)
        ctx.eps = eps
        return (x_hat * weight.to(xc.dtype) + bias.to(xc.dtype)).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        xc = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        g = grad_output.to(xc.dtype)
        mean = xc.mean(-1, keepdim=True)
        rstd = torch.rsqrt((xc - mean).pow(2).mean(-1, keepdim=True) + ctx.eps)
        x_hat = (xc - mean) * rstd
        gw = g * weight.to(xc.dtype)
        grad_x = rstd * (gw - gw.mean(-1, keepdim=True) - x_hat * (gw * x_hat).mean(-1, keepdim=True))
        lead = tuple(range(x.dim() - 1))
        grad_w = (g * x_hat).sum(lead) if lead else g * x_hat
        grad_b = g.sum(lead) if lead else g
        return grad_x.to(x.dtype), grad_w.to(weight.dtype), grad_b.to(weight.dtype), None


def layer_norm_reference(x, weight, bias, eps):
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


@st.composite
def _layer_norm_args(draw, dtype: torch.dtype, device: torch.device):
    n = draw(st.integers(2, 6))
    batch = draw(shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    x = draw(tensors(dtype=dtype, device=device, shape=batch + (n,)))
    # A trained layer norm's weights stay within a few units of 1 (beyond, weights a hundred times
    # apart, this textbook formula is several times less exact than native's kernel: a finding).
    weight = draw(tensors(dtype=dtype, device=device, shape=(n,), elements_strategy=elements(dtype, max_abs=8.0)))
    bias = draw(tensors(dtype=dtype, device=device, shape=(n,)))
    return (x, weight, bias, 1e-5)


LAYER_NORM_32 = FunctionSpec(
    name="layer_norm_float32",
    function=LayerNorm32.apply,
    reference=layer_norm_reference,
    args=_layer_norm_args,
    opt_outs={"extreme_values": "beyond sqrt(max) the variance overflows in the compute dtype, as native's does"},
)


# --- 5. an index tensor kept on ctx (max over the last dimension) -------------------------------
class MaxLastDim(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        values, index = x.max(-1)
        ctx.index = index  # an int64 tensor made here: freed with the graph, nothing can modify it
        ctx.shape = x.shape
        return values

    @staticmethod
    def backward(ctx, grad_output):
        grad = grad_output.new_zeros(ctx.shape)
        return grad.scatter(-1, ctx.index[..., None], grad_output[..., None])


MAX_LAST_DIM = FunctionSpec(
    name="max_last_dim",
    function=MaxLastDim.apply,
    reference=lambda x: x.max(-1).values,
    args=lambda dtype, device: tensors(dtype=dtype, device=device, shape=shapes(min_dims=1, min_side=1)).map(lambda x: (x,)),
    # torch 2.1's dynamo asserts inside itself tracing a backward that reads a tensor kept on ctx
    # ("lift_tracked_freevar_to_input should not be called on root SubgraphTracer"): a torch bug
    # fixed by 2.5, not this Function's
    opt_outs={"compile": f"torch {torch.__version__}: dynamo fails inside itself on a tensor kept on ctx (fixed by 2.5)"}
    if TORCH_VERSION < (2, 5) else {},
)


# --- 6. an elementwise Function that saves its output, whose output overflows near the max ------
class SquaredReLU(torch.autograd.Function):
    """relu(x)^2 (Primer's activation), saving the output rather than x: 2 relu(x) = 2 sqrt(out)."""

    @staticmethod
    def forward(x):
        return torch.relu(x).square()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    @once_differentiable  # through sqrt(out), a second derivative would be 0 * inf at x = 0
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * 2 * out.sqrt()


SQUARED_RELU = FunctionSpec(
    name="squared_relu_saves_output",
    function=SquaredReLU.apply,
    reference=lambda x: torch.relu(x).square(),
    args=_one,
    # In float16 the saved output underflows to 0 for 0 < x < 2.4e-4, and with it the gradient: a
    # real limit of saving the output in 8 bits of exponent, not what this twin is about.
    dtypes=(torch.float64, torch.float32),
)


# --- 7. a reduction whose output overflows: the sum of squares ----------------------------------
class SumOfSquares(torch.autograd.Function):
    @staticmethod
    def forward(x):
        xc = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        return (xc * xc).sum().to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 2 * x * grad_output  # 2 x first: it overflows only where the output already has


SUM_OF_SQUARES = FunctionSpec(name="sum_of_squares", function=SumOfSquares.apply, reference=lambda x: (x * x).sum(), args=_one)


# --- 8. a float16 backward that rounds in another order than native's ---------------------------
class Gelu(torch.autograd.Function):
    """Exact (erf) GELU; backward computes Phi(x) + x phi(x) in float32 in its own order."""

    @staticmethod
    def forward(x):
        return F.gelu(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        xc = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        cdf = 0.5 * torch.erfc(-xc * (1 / math.sqrt(2)))
        pdf = torch.exp(-0.5 * xc * xc) * (1 / math.sqrt(2 * math.pi))
        return (grad_output.to(xc.dtype) * (cdf + xc * pdf)).to(x.dtype)


GELU = FunctionSpec(name="gelu_own_rounding", function=Gelu.apply, reference=F.gelu, args=_one)


# --- 9. a float tensor argument that is a constant: binary cross-entropy's targets --------------
class BCEWithLogits(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets):
        ctx.save_for_backward(logits, targets)
        max_val = (-logits).clamp(min=0)
        loss = (1 - targets) * logits + max_val + torch.log(torch.exp(-max_val) + torch.exp(-logits - max_val))
        return loss.mean()

    @staticmethod
    def backward(ctx, grad_output):
        logits, targets = ctx.saved_tensors
        return (torch.sigmoid(logits) - targets) * (grad_output / logits.numel()), None


@st.composite
def _bce_args(draw, dtype: torch.dtype, device: torch.device):
    shape = draw(shapes(min_side=1))
    logits = draw(tensors(dtype=dtype, device=device, shape=shape))
    targets = draw(tensors(dtype=dtype, device=device, shape=shape, elements_strategy=st.floats(0.0, 1.0)))
    return (logits, targets)


BCE = FunctionSpec(
    name="bce_with_logits",
    function=BCEWithLogits.apply,
    reference=lambda logits, targets: F.binary_cross_entropy_with_logits(logits, targets),
    args=_bce_args,
    non_differentiable=(1,),  # the targets: labels, not an input the loss is differentiated in
)


# --- 10. keyword arguments through a wrapper, classic style: a distillation log-softmax ---------
class LogSoftmaxTemperature(torch.autograd.Function):
    """log_softmax(x / T) along dim, as distillation losses use it; classic style, so it is called
    through a wrapper taking keywords (a classic Function's apply takes none)."""

    @staticmethod
    def forward(ctx, x, dim, temperature):
        out = F.log_softmax(x / temperature, dim=dim)
        ctx.save_for_backward(out)
        ctx.dim, ctx.temperature = dim, temperature
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        g, y = grad_output, out
        if out.dtype in (torch.float16, torch.bfloat16):  # in float32, as native does (.float() alone would cut float64)
            g, y = g.float(), y.float()
        grad = g - torch.exp(y) * g.sum(ctx.dim, keepdim=True)
        return (grad / ctx.temperature).to(out.dtype), None, None


def log_softmax_temperature(x, dim=-1, temperature=1.0):
    return LogSoftmaxTemperature.apply(x, dim, temperature)


@st.composite
def _temperature_args(draw, dtype: torch.dtype, device: torch.device):
    x = draw(tensors(dtype=dtype, device=device))
    return (x, draw(keywords(dim=dims(x.dim()), temperature=st.floats(0.5, 8.0))))


LOG_SOFTMAX_TEMPERATURE = FunctionSpec(
    name="log_softmax_temperature",
    function=log_softmax_temperature,
    reference=lambda x, dim=-1, temperature=1.0: F.log_softmax(x / temperature, dim=dim),
    args=_temperature_args,
    function_class=LogSoftmaxTemperature,
)

# --- 11. gradients left at the broadcast shape for autograd to sum (torch's numpy_mul example) ----
class BroadcastMul(torch.autograd.Function):
    """x * y for shapes that broadcast, as torch's custom_op_db ``numpy_mul`` writes its backward:
    each gradient at the output's shape, which autograd sums to its input's shape by design."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad_output):
        x, y = ctx.saved_tensors
        return grad_output * y, grad_output * x


@st.composite
def _broadcast_mul_args(draw, dtype: torch.dtype, device: torch.device):
    shape_x, shape_y = draw(broadcastable_shapes(2))
    return (draw(tensors(dtype=dtype, device=device, shape=shape_x)), draw(tensors(dtype=dtype, device=device, shape=shape_y)))


BROADCAST_MUL = FunctionSpec(name="broadcast_mul", function=BroadcastMul.apply, reference=torch.mul, args=_broadcast_mul_args)

# --- an index input kept on ctx as an attribute (Reformer's ReverseSort, Hugging Face transformers) -
class ReverseSort(torch.autograd.Function):
    @staticmethod
    def forward(ctx, out_vectors, logits, sorted_idx, undo_sorted_idx):
        with torch.no_grad():
            ctx.sorted_idx = sorted_idx
            expanded = undo_sorted_idx.unsqueeze(-1).expand(out_vectors.shape)
            out_vectors = torch.gather(out_vectors, 2, expanded)
            logits = torch.gather(logits, 2, undo_sorted_idx)
        return out_vectors, logits

    @staticmethod
    def backward(ctx, grad_out_vectors, grad_logits):
        expanded = ctx.sorted_idx.unsqueeze(-1).expand(grad_out_vectors.shape)
        grad_out_vectors = torch.gather(grad_out_vectors, 2, expanded)
        grad_logits = torch.gather(grad_logits, 2, ctx.sorted_idx)
        return grad_out_vectors, grad_logits, None, None


def reverse_sort_reference(out_vectors, logits, sorted_idx, undo_sorted_idx):
    expanded = undo_sorted_idx.unsqueeze(-1).expand(out_vectors.shape)
    return torch.gather(out_vectors, 2, expanded), torch.gather(logits, 2, undo_sorted_idx)


@st.composite
def _reverse_sort_args(draw, dtype: torch.dtype, device: torch.device):
    batch, heads, n, d = (draw(st.integers(1, 3)) for _ in range(4))
    keys = draw(tensors(dtype=torch.float64, device="cpu", shape=(batch, heads, n), elements_strategy=st.floats(-1, 1)))
    sorted_idx = torch.sort(keys, dim=-1, stable=True).indices
    undo = torch.argsort(sorted_idx, dim=-1)
    out_vectors = draw(tensors(dtype=dtype, device=device, shape=(batch, heads, n, d)))
    logits = draw(tensors(dtype=dtype, device=device, shape=(batch, heads, n)))
    return (out_vectors, logits, sorted_idx.to(device), undo.to(device))


REVERSE_SORT = FunctionSpec(name="reformer_reverse_sort", function=ReverseSort.apply, reference=reverse_sort_reference, args=_reverse_sort_args)

# --- exp drawn past its float16 overflow: 0 times an infinite derivative is NaN, for native too ----
def _past_exp_overflow(dtype: torch.dtype, device: torch.device):
    values = st.sampled_from([32.0, 15.0, 11.5, -40.0, 0.0, 1.0]) | st.floats(-40, 40)
    return tensors(dtype=dtype, device=device, elements_strategy=values).map(lambda x: (x,))


EXP_PAST_OVERFLOW = dataclasses.replace(EXP, name="exp_past_overflow", args=_past_exp_overflow)

# --- classic style with a jvp whose slope comes from NumPy (detached first) ------------------------
class ClassicSoftplusNumpyJvp(ClassicSoftplus):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_forward(x)
        return ClassicSoftplus.forward(ctx, x)

    @staticmethod
    def jvp(ctx, x_tangent):
        (x,) = ctx.saved_tensors
        return x_tangent * torch.from_numpy(numpy_sigmoid(x.detach())).to(x)


def numpy_sigmoid(x: torch.Tensor) -> np.ndarray:
    """sigmoid(x) in float64 NumPy (tanh's form: no overflow), as NumPy-backed kernels compute it."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x.double().cpu().numpy())))


CLASSIC_SOFTPLUS_NUMPY_JVP = FunctionSpec(
    name="classic_softplus_numpy_jvp", function=ClassicSoftplusNumpyJvp.apply, reference=F.softplus, args=_one
)

# --- a Function kept out of torch.compile by its wrapper (torch.compiler.disable, as code around
# custom kernels does): compile runs it eagerly, with eager's results ----------------------------
class SquareKernel(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 2 * x * grad_output


@torch.compiler.disable
def square_kept_out_of_compile(x):
    return SquareKernel.apply(x)


SQUARE_KEPT_OUT_OF_COMPILE = FunctionSpec(
    name="square_kept_out_of_compile", function=square_kept_out_of_compile, function_class=SquareKernel,
    reference=torch.square, args=_one,
)

# --- a wrapper that calls the Function only when autograd records (checkpoint helpers skip it when
# nothing requires grad): vmap and forward mode on plain tensors take the other path ------------
def square_when_recording(x):
    if torch.is_grad_enabled() and x.requires_grad:
        return SquareKernel.apply(x)
    return x * x  # nothing will call backward: no need for the Function


SQUARE_WHEN_RECORDING = FunctionSpec(
    name="square_when_recording", function=square_when_recording, function_class=SquareKernel, reference=torch.square, args=_one
)

SPECS = [
    CLASSIC_SOFTPLUS,
    CLASSIC_SOFTPLUS_NUMPY_JVP,
    REVERSE_LAYER,
    WHERE_REFERENCE,
    MULTI_MARGIN,
    LAYER_NORM_32,
    MAX_LAST_DIM,
    SQUARED_RELU,
    SUM_OF_SQUARES,
    GELU,
    BCE,
    LOG_SOFTMAX_TEMPERATURE,
    BROADCAST_MUL,
    REVERSE_SORT,
    EXP_PAST_OVERFLOW,
    SQUARE_KEPT_OUT_OF_COMPILE,
    SQUARE_WHEN_RECORDING,
]

# What each twin's report must show: (property, a phrase of the note its passing examples carry).
NOTES = {
    "classic_softplus": ("vmap", "classic-style Function"),
    "reverse_layer_view": ("saved_tensor_hygiene", "autograd refused the modified inputs"),
    "softplus_where_reference": ("vjp_native", "the reference could not judge"),
    "multi_margin_loss": ("double_backward", "the reference has no double backward"),
    "max_last_dim": ("memory", "tensors forward made for itself kept on ctx (index)"),
    "squared_relu_saves_output": ("extreme_values", "gradient not judged where it depends on a non-finite output"),
    "sum_of_squares": ("special_values", "gradient not judged where it depends on a non-finite output"),
    "broadcast_mul": ("gradient_contract", "which autograd sums to its input's"),
    "square_kept_out_of_compile": ("compile", "ran no compiled graph"),
    "square_when_recording": ("vmap", "a wrapper that goes around it"),
    "reformer_reverse_sort": ("memory", "integer or boolean inputs kept on ctx as attributes (sorted_idx)"),
    "exp_past_overflow": ("unused_outputs", "where native gives NaN for zero ones"),
}
