"""A user module whose Function hangs in backward (it sleeps for an hour): the gate must fail
that cell within its per-example limit, name the call, and carry on with the others."""

from __future__ import annotations

import dataclasses
import time

from funcs.square import SPEC as SQUARE
from funcs.square import Square


class SleepsInBackward(Square):
    @staticmethod
    def backward(ctx, grad_output):
        time.sleep(3600)
        return Square.backward(ctx, grad_output)


SPECS = [dataclasses.replace(SQUARE, name="sleeper", function=SleepsInBackward.apply, function_class=SleepsInBackward)]
