"""Benchmarks of the built-in Functions (pytest-benchmark) and the report built from their JSON.

* ``test_bench_functions.py``: forward+backward time, custom Function vs its native reference;
* ``test_bench_memory.py``: bytes saved for backward, custom vs native (``saved_bytes.py``);
* ``test_bench_checking.py``: the gate's checks vs ``torch.autograd.gradcheck``, 10 to 10^6 elements;
* ``test_bench_drawing.py``: drawing one tensor example, the gate's strategies vs ``torch.randn``;
* ``test_bench_failing_run.py``: a whole gate run over a failing Function vs over its correct twin;
* ``test_bench_discover.py``: a whole gate run over discovered specs vs over hand-written ones;
* ``report.py``: ``python -m benchmarks.report`` turns the JSON into markdown and a plot, with
  ``runs.py`` (loading the JSON), ``targets.py`` (the targets), ``formatting.py`` (numbers),
  ``markdown.py`` (the tables), ``plot.py`` (the plot) and ``noise.py`` (noise between two runs);
* ``run.py``: ``python -m benchmarks.run`` (what ``tox -e bench`` runs) does both;
* ``allocator.py`` (one C allocator regime for a timed run) and ``page_faults.py`` (faults per
  round, recorded by the check benchmarks): what fresh memory costs at 10^6 elements.

Every benchmark records ``extra_info`` with at least ``function``, ``impl``, ``numel``,
``measure`` (``fwd+bwd``, ``saved-bytes``, ``check``, ``draw``, ``gate-run`` or ``discover-run``) and ``device``.
"""

from __future__ import annotations

THREADS_OPTION = "--bench-threads"
DEVICES_OPTION = "--bench-devices"
MALLOC_OPTION = "--bench-malloc"

# Sizes (elements of the main input) when timed, and when run once as a smoke test.
TIMED_SIZES: tuple[int, ...] = (1, 32, 1024, 32768, 1 << 20)
SMOKE_SIZES: tuple[int, ...] = (1, 1024)
CHECK_SIZES: tuple[int, ...] = (10, 100, 1000, 10_000, 100_000, 1_000_000)
SMOKE_CHECK_SIZES: tuple[int, ...] = (10, 100)
DRAW_SIZES: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
SMOKE_DRAW_SIZES: tuple[int, ...] = (1_000,)

IMPLS: tuple[str, ...] = ("custom", "native", "native-composite", "oracle", "oracle-native", "oracle-fd", "oracle-strict", "oracle-native-strict", "function", "gradcheck-fast", "gradcheck-slow")
