"""Tensors drawn as one bytes choice (packed_elements.py) keep elements()'s classes and shrink to
simple values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import find
from hypothesis import strategies as st

from autograd_props import strategies
from autograd_props.packed_elements import BYTES_PER_ELEMENT, ElementClasses
from autograd_props.strategies import elements, large_threshold, safe_max_abs, tensors

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
# elements() as the gate calls it: arguments, cotangents (max_abs=4), away from a pole (min_abs).
VARIANTS = [{}, {"max_abs": 4.0}, {"min_abs": 0.5}, {"allow_zero": False}]


def _decoded(classes: ElementClasses, count: int, seed: int = 0) -> np.ndarray:
    raw = np.random.default_rng(seed).integers(0, 256, size=count * BYTES_PER_ELEMENT, dtype=np.uint8).tobytes()
    return classes.decode(raw, count)


def _stored(values: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(values).to(dtype).double()


def test_all_zero_bytes_are_one_the_simplest_value_as_a_shrunk_element_is():
    classes = strategies._CLASSES[elements(torch.float32)]
    assert classes.decode(bytes(3 * BYTES_PER_ELEMENT), 3).tolist() == [1.0, 1.0, 1.0]
    assert find(elements(torch.float32), lambda v: True) == 1.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_every_decoded_value_lies_in_a_class_of_elements(dtype, variant):
    classes = strategies._CLASSES[elements(dtype, **variant)]
    values = _stored(_decoded(classes, 20_000), dtype)
    magnitude = values.abs()
    inside = torch.zeros_like(values, dtype=torch.bool)
    for part in classes.parts:
        inside |= (magnitude == 0) if part is None else ((magnitude >= part[0]) & (magnitude <= part[1]))
    assert inside.all(), values[~inside][:5]
    top = variant.get("max_abs", safe_max_abs(dtype))
    assert (magnitude <= top).all()
    assert (magnitude >= variant.get("min_abs", 0.0)).all()
    if variant.get("allow_zero", True) and "min_abs" not in variant:
        assert (values == 0).any()
    else:
        assert (values != 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_class_sign_and_bound_is_reached(dtype):
    classes = strategies._CLASSES[elements(dtype)]
    values = _stored(_decoded(classes, 20_000, seed=1), dtype)
    top = classes.parts[-1][1]
    assert (values == 0).any() and (values < 0).any() and (values > 0).any()
    assert (values == 1).any() and (values.abs() == top).any()
    assert ((values != 0) & (values.abs() <= 1e-2)).any()
    assert (values.abs() >= large_threshold(safe_max_abs(dtype))).any()
    assert not torch.signbit(values[values == 0]).any(), "an exact zero is +0.0, as elements() draws it"
    spread = 10_000 if dtype.itemsize > 2 else 2_000  # 16-bit floats have few values in these ranges
    assert len(values.unique()) > spread, "values are spread, not a handful repeated"


def test_decode_refuses_a_wrong_number_of_bytes_and_classes_refuse_bad_ranges_or_weights():
    classes = strategies._CLASSES[elements(torch.float32)]
    with pytest.raises(ValueError, match="7 bytes for 2 elements"):
        classes.decode(bytes(7), 2)
    with pytest.raises(ValueError, match="no class"):
        ElementClasses(np.float32, (), ())
    with pytest.raises(ValueError, match="0 < low <= high"):
        ElementClasses(np.float32, ((2.0, 1.0),), (1,))
    with pytest.raises(ValueError, match="a positive weight for each class"):
        ElementClasses(np.float32, ((1.0, 2.0), None), (1,))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_shrunk_tensor_holds_simple_values(dtype):
    drawn = tensors(dtype=dtype, device="cpu", shape=(6,))
    assert find(drawn, lambda t: t.double().sum() > 5).tolist() == [1.0] * 6
    large = find(drawn, lambda t: (t.double().abs() > 20).any())
    assert sorted(large.tolist())[:5] == [1.0] * 5


def test_a_callers_own_strategy_or_one_for_another_dtype_is_drawn_element_by_element(monkeypatch):
    def refuse(*args):
        raise AssertionError("packed")

    monkeypatch.setattr(ElementClasses, "decode", refuse)
    for values in (elements(torch.float64, max_abs=4.0), st.floats(-4.0, 4.0)):
        drawn = tensors(dtype=torch.float32, device="cpu", shape=(3,), elements_strategy=values)
        assert find(drawn, lambda t: (t.abs() > 3.5).all()).abs().max() <= 4.0
    with pytest.raises(AssertionError, match="packed"):
        find(tensors(dtype=torch.float32, device="cpu", shape=(3,)), lambda t: True)
