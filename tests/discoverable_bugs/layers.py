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
        return grad_output @ weight, grad_weight, g[0]  # planted: the first row only, the reduction over rows missing


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
        with torch.no_grad():  # planted: double backward sees a constant
            grad = y * (grad_output - (grad_output * y).sum(ctx.dim, keepdim=True))
        return grad, None


class RMSNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, eps: float = 1e-6):
        ctx.save_for_backward(x)
        ctx.eps = eps
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + ctx.eps)
        y = x.mul_(rstd)  # planted: the saved input normalized in place
        return rstd * (grad_output - y * (grad_output * y).mean(-1, keepdim=True)), None
