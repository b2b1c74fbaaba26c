"""A user module whose spec opts out of a property that does not exist: loading it is a usage error."""

import torch

from autograd_props import FunctionSpec
from funcs.square import SPEC as SQUARE

SPECS = [FunctionSpec(name="square", function=SQUARE.function, reference=torch.square, args=SQUARE.args, opt_outs={"vjp_nativ": "typo"})]
