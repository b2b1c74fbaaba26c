"""Specs with a mistake only their first example shows, written as a new user might: a reference
that takes fewer arguments than the strategy draws, and an ``args`` strategy that draws a tensor,
not a tuple of arguments.  Both must be told apart from failures of the (correct) Function."""

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

SPECS = [WRONG_REFERENCE, TENSOR_NOT_TUPLE]
