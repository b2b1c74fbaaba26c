"""A user module whose Function hangs in backward (it sleeps for an hour): the gate must fail
that cell within its per-example limit, name the call, and carry on with the others."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from funcs.square import SPEC as SQUARE
from funcs.square import Square


class SleepsInBackward(Square):
    @staticmethod
    def backward(ctx, grad_output):
        asleep = os.environ.get("SLEEPING_FUNCTION_MARKER")  # lets a test interrupt it once it is asleep
        if asleep:
            Path(asleep).touch()
        # In short sleeps: a signal (Ctrl-C, the time limit's alarm) that the kernel hands to one
        # of torch's threads only trips Python's flag; one long sleep in the main thread would
        # not wake up to act on it.
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            time.sleep(0.05)
        return Square.backward(ctx, grad_output)


SPECS = [dataclasses.replace(SQUARE, name="sleeper", function=SleepsInBackward.apply, function_class=SleepsInBackward)]
