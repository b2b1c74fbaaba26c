"""A user module whose Function raises inside backward: a failing property, not a crashed session."""

from __future__ import annotations

import dataclasses

from funcs.square import SPEC as SQUARE
from funcs.square import Square


class BrokenBackward(Square):
    @staticmethod
    def backward(ctx, grad_output):
        raise ValueError("backward exploded on purpose")


SPECS = [dataclasses.replace(SQUARE, function=BrokenBackward.apply, function_class=BrokenBackward)]
