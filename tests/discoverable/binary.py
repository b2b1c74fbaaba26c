"""Several inputs that broadcast together."""

import torch


class Mul(torch.autograd.Function):
    @staticmethod
    def forward(x, y):
        return x * y

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad_output):
        x, y = ctx.saved_tensors
        return (grad_output * y).sum_to_size(x.shape), (grad_output * x).sum_to_size(y.shape)


class AddCMul(torch.autograd.Function):
    """a + b * c, three broadcasting inputs."""

    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(b, c)
        ctx.shapes = (a.shape, b.shape, c.shape)
        return a + b * c

    @staticmethod
    def backward(ctx, grad_output):
        b, c = ctx.saved_tensors
        sa, sb, sc = ctx.shapes
        # Products and broadcast sums in float64, rounded once, as native's CPU sums accumulate: in
        # float32 near its largest value a partial sum overflows where the true sum does not.
        g, dtype = grad_output.double(), grad_output.dtype
        return g.sum_to_size(sa).to(dtype), (g * c).sum_to_size(sb).to(dtype), (g * b).sum_to_size(sc).to(dtype)
