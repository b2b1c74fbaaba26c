"""Unit tests of the saved-bytes counter (benchmarks/saved_bytes.py)."""

from __future__ import annotations

import torch

from benchmarks.saved_bytes import SavedBytes, count_saved
from funcs.silu import SiLU


def _leaf(n: int, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(n, dtype=dtype, requires_grad=True)


def test_x_times_x_is_one_storage_saved_twice():
    x = _leaf(1000)
    saved, out = count_saved(lambda x: x * x, x)
    assert saved == SavedBytes(tensors=2, storages=1, bytes=4 * 1000)
    assert out.requires_grad


def test_composite_silu_saves_input_and_sigmoid():
    x = _leaf(500, torch.float64)
    saved, _ = count_saved(lambda x: x * torch.sigmoid(x), x)
    assert (saved.storages, saved.bytes) == (2, 2 * 8 * 500)


def test_custom_silu_saves_only_its_input():
    x = _leaf(500)
    saved, _ = count_saved(SiLU.apply, x)
    assert saved == SavedBytes(tensors=1, storages=1, bytes=4 * 500)


def test_views_of_one_storage_count_once():
    w = _leaf(64).reshape(8, 8)
    x = _leaf(8)
    saved, _ = count_saved(lambda x, w: (x @ w.T) + (x @ w), x, w)
    # both products save x and a view of w's storage
    assert saved.storages == 2
    assert saved.bytes == 4 * 64 + 4 * 8


def test_nothing_saved_without_grad():
    x = torch.randn(10)  # does not require grad
    saved, _ = count_saved(lambda x: x * x, x)
    assert saved == SavedBytes(0, 0, 0)


def test_storage_nbytes_not_view_size():
    # A slice saves the whole storage it lives in: that is what stays alive.
    base = _leaf(100)
    saved, _ = count_saved(lambda b: b[:10] * b[:10], base)
    assert saved.bytes == 4 * 100
