"""The gate's tests as ``python -m autograd_props`` runs them: every property over the session's
specs (``--funcs``, which the command sets from its arguments)."""

from autograd_props.plugin.gate import gate

TestGate = gate()
