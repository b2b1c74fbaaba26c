"""Forward mode with the inputs also requiring grad, as training code runs it (a Hessian-vector
product, jacfwd over a model): a jvp that works only when they do not is caught by forward_ad,
not only where a Function also claims double backward (fwd-over-rev)."""

from __future__ import annotations

import pytest
import torch

from autograd_props.properties.forward_ad import check_forward_ad
from tests.corpus.mutants import MUTANTS

MUTANT = MUTANTS["JVP_ONLY_WITHOUT_GRAD"]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_a_jvp_that_raises_while_recording_fails_and_its_detached_twin_passes(dtype):
    x = torch.tensor([[-2.0, 0.0], [0.5, 30.0]], dtype=dtype)
    v = torch.tensor([[1.0, -1.0], [0.25, 2.0]], dtype=dtype)
    check_forward_ad(MUTANT.twin, args=(x,), tangents=(v,), cotangents=(v,))
    with pytest.raises(AssertionError, match="raised when the inputs also require grad.*numpy"):
        check_forward_ad(MUTANT.spec, args=(x,), tangents=(v,), cotangents=(v,))
