"""Copies of tests/discoverable's Functions, each with one planted bug (``BUGS`` names it and the
properties aimed at it), spread over several files as a user's package would be."""

VJP = ("vjp_native", "vjp_finite_differences")

# class (spec) name -> (the bug, the properties aimed at it)
BUGS = {
    "Square": ("sign flip: the backward is negated", VJP),
    "Mul": ("broadcast reduction by mean: grad_y averaged, not summed, over y's broadcast elements", VJP),
    "Softplus": ("wrong dtype: the backward computes in bfloat16", ("vjp_native",)),
    "RMSNorm": ("saved tensor modified in place by the backward", ("deterministic_backward", "no_mutation", "saved_tensor_hygiene")),
    "Softmax": ("double backward zero: the backward runs under no_grad", ("double_backward",)),
    "Linear": ("missing broadcast reduction: grad_bias is the first row of grad_output, not its sum over rows", VJP),
    "CrossEntropy": ("factor wrong: the gradient is not divided by the batch size", VJP),
    "cube": ("factor wrong: the custom op's backward is 3 x, not 3 x^2", VJP),
}
