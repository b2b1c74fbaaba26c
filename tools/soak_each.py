"""Every spec the soak runs under its own name, so ``python -m tools.soak --only NAME,...`` can soak
a few of them (``--funcs tools.soak_each:NAME``)."""

from tools.soak import SPECS

globals().update({spec.name: spec for spec in SPECS})
