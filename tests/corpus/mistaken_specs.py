"""Specs with a mistake only their first example shows, written as a new user might: a reference
that takes fewer arguments than the strategy draws, an ``args`` strategy that draws a tensor,
not a tuple of arguments, and one that raises (a keyword the strategy does not take).  Both must be told apart from failures of the (correct) Function."""

from __future__ import annotations

import dataclasses

import torch

from autograd_props import tensors
from funcs.linear import SPEC as LINEAR
from funcs.square import SPEC as SQUARE


def linear_reference(x, weight):  # forgot the bias the Function takes
    return x @ weight.t()


WRONG_REFERENCE = dataclasses.replace(LINEAR, name="linear_wrong_reference", reference=linear_reference)
TENSOR_NOT_TUPLE = dataclasses.replace(
    SQUARE, name="square_tensor_args", args=lambda dtype, device: tensors(dtype=dtype, device=device)
)



def _args_with_a_wrong_keyword(dtype, device):
    return tensors(dtype=dtype, device=device, min_dims=1).map(lambda x: (x,))  # tensors() takes no min_dims


STRATEGY_RAISES = dataclasses.replace(SQUARE, name="square_strategy_raises", args=_args_with_a_wrong_keyword)

SPECS = [WRONG_REFERENCE, TENSOR_NOT_TUPLE, STRATEGY_RAISES]
