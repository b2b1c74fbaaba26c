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
        return grad_output.sum_to_size(sa), (grad_output * c).sum_to_size(sb), (grad_output * b).sum_to_size(sc)
