"""Bytes each Function saves for backward, custom vs native (``benchmarks/saved_bytes.py``).

The count does not depend on timing, so each benchmark is one pedantic round of the forward
under the counting hooks; what matters is ``extra_info``: ``saved_bytes`` (distinct storages),
``saved_storages`` and ``saved_tensors``.  The report puts them beside the times.
"""

from __future__ import annotations

import torch

from autograd_props import FunctionSpec
from benchmarks.inputs import bench_input
from benchmarks.saved_bytes import SavedBytes, count_saved
from benchmarks.test_bench_functions import DTYPE, implementations, impls_for  # noqa: F401  (impls_for: conftest)


def test_saved_bytes(benchmark, spec: FunctionSpec, impl: str, numel: int, device: str) -> None:
    fn = implementations(spec)[impl]
    inp = bench_input(spec.name, numel, dtype=DTYPE, device=device)
    args = tuple(a.detach().requires_grad_(i in inp.which) if isinstance(a, torch.Tensor) else a for i, a in enumerate(inp.args))
    benchmark.group = f"saved-bytes {spec.name} {device}"
    benchmark.extra_info.update(
        function=spec.name, impl=impl, numel=numel, measure="saved-bytes", device=device, dtype="float32", shape=inp.shape
    )

    def measure() -> SavedBytes:
        saved, _ = count_saved(fn, *args)  # the output (and with it the graph) is freed on return
        return saved

    saved = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(saved_bytes=saved.bytes, saved_storages=saved.storages, saved_tensors=saved.tensors)
    assert saved.bytes >= 0
