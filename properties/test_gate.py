"""The gate over this repository's built-in Functions (``funcs.SPECS``), exactly as a user adds it
to their own suite; ``--funcs`` or ``$AUTOGRAD_PROPS_FUNCS`` check other specs instead."""

from autograd_props import gate

TestGate = gate()
