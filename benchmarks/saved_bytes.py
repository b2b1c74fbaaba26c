"""Bytes saved for backward, counted with ``torch.autograd.graph.saved_tensors_hooks``.

Every tensor autograd saves -- by a native op or by a custom Function's ``save_for_backward`` --
passes through the pack hook.  What occupies memory is the storage behind it, and one storage
is often saved several times (``x * x`` saves ``x`` twice, ``x @ W.T`` saves ``W`` through a
view), so the count is over distinct storages: ``(device, untyped_storage().data_ptr())``,
each counted with its ``nbytes()``.  Inputs saved for backward count too: the question is what
the graph keeps alive, and an input kept alive only by the graph is memory the Function costs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["SavedBytes", "count_saved"]


@dataclasses.dataclass(frozen=True)
class SavedBytes:
    tensors: int  # pack-hook calls: tensors saved, one per save
    storages: int  # distinct storages among them
    bytes: int  # total nbytes of the distinct storages

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def count_saved(fn: Callable[..., Any], *args: Any) -> tuple[SavedBytes, Any]:
    """Run ``fn(*args)`` under grad mode and count what it saves for backward.

    Returns the count and fn's result (keep the result alive as long as the count matters: the
    graph holds the saved tensors).
    """
    storages: dict[tuple[str, int], int] = {}
    calls = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        # A storage with no data (0 bytes) has a null pointer; give each its own key.
        key = (str(t.device), ptr) if ptr else (str(t.device), -calls)
        storages[key] = storage.nbytes()
        return t

    def unpack(t: torch.Tensor) -> torch.Tensor:
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        out = fn(*args)
    return SavedBytes(tensors=calls, storages=len(storages), bytes=sum(storages.values())), out
