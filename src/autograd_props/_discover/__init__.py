"""Discovery's inner parts: finding Functions, running their forward outside them, inferring
their arguments, writing specs.  The public entry is :mod:`autograd_props.discovery`."""
