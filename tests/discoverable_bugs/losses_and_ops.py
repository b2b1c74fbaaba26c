import torch
from torch.autograd.function import once_differentiable


class CrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, labels):
        log_probs = torch.log_softmax(logits, dim=-1)
        ctx.save_for_backward(log_probs, labels)
        return -log_probs.gather(1, labels[:, None]).mean()

    @staticmethod
    @once_differentiable  # it saves an intermediate (log_probs): double backward through it would be wrong
    def backward(ctx, grad_output):
        log_probs, labels = ctx.saved_tensors
        grad = log_probs.exp()
        grad[torch.arange(labels.shape[0]), labels] -= 1
        return grad_output * grad, None  # planted: not divided by the batch size


@torch.library.custom_op("discoverable_bugs::cube", mutates_args=())
def cube(x: torch.Tensor) -> torch.Tensor:
    return x * x * x


@cube.register_fake
def _(x):
    return torch.empty_like(x)


def _cube_setup(ctx, inputs, output):
    (x,) = inputs
    ctx.save_for_backward(x)


def _cube_backward(ctx, grad_output):
    (x,) = ctx.saved_tensors
    return grad_output * 3 * x  # planted: 3 x, not 3 x^2


cube.register_autograd(_cube_backward, setup_context=_cube_setup)
