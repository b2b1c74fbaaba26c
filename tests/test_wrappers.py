"""A spec's function that goes around its Function when nothing requires grad (checkpoint helpers
do): what it does then is what inference, vmap and forward mode get, so it is judged, not refused
for the Function's missing vmap rule or jvp, and a wrong value on that path is caught."""

from __future__ import annotations

import pytest
import torch

from autograd_props.properties.forward import check_forward
from autograd_props.properties.forward_ad import check_forward_ad
from autograd_props.properties.vmap import check_vmap
from tests.corpus.mutants import MUTANTS

MUTANT = MUTANTS["WRAPPER_PATH_DIFFERS"]
X = torch.tensor([[-2.0, 0.5], [3.0, -0.25]], dtype=torch.float64)
V = torch.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=torch.float64)


def test_the_path_around_the_function_is_judged_and_noted():
    check_forward(MUTANT.twin, args=(X,))
    jvp_notes = check_forward_ad(MUTANT.twin, args=(X,), tangents=(V,), cotangents=(V,)).notes
    vmap_notes = check_vmap(MUTANT.twin, args=(X,), batched={0: torch.stack([X, X.flip(0)])}, cotangents=(V,)).notes
    assert any("a wrapper that goes around it" in note for note in jvp_notes), jvp_notes
    assert any("a wrapper that goes around it" in note for note in vmap_notes), vmap_notes


def test_a_wrong_value_on_that_path_fails_forward_and_forward_ad():
    with pytest.raises(AssertionError, match=r"under torch.no_grad\(\)"):
        check_forward(MUTANT.spec, args=(X,))
    with pytest.raises(AssertionError, match="jvp of output 0"):
        check_forward_ad(MUTANT.spec, args=(X,), tangents=(V,), cotangents=(V,))
