"""A weight matrix, a dim argument, an eps float."""

import torch


class Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x @ weight.t() + bias

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        g = grad_output.reshape(-1, grad_output.shape[-1])
        grad_weight = g.t() @ x.reshape(-1, x.shape[-1])
        return grad_output @ weight, grad_weight, g.sum(0)


class Softmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dim):
        y = torch.softmax(x, dim)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return y * (grad_output - (grad_output * y).sum(ctx.dim, keepdim=True)), None


class RMSNorm(torch.autograd.Function):
    """x / sqrt(mean(x^2) + eps) over the last dim.  The backward recomputes from the saved input
    (so double backward is right), in float32 at least, and never cubes rstd (which overflows
    float16)."""

    @staticmethod
    def forward(ctx, x, eps: float = 1e-6):
        ctx.save_for_backward(x)
        ctx.eps = eps
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        wide = torch.promote_types(x.dtype, torch.float32)  # half precision cancels in g - y * mean(g y)
        xw, gw = x.to(wide), grad_output.to(wide)
        rstd = torch.rsqrt(xw.pow(2).mean(-1, keepdim=True) + ctx.eps)
        y = xw * rstd
        return (rstd * (gw - y * (gw * y).mean(-1, keepdim=True))).to(x.dtype), None
