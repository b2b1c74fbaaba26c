"""pytest wiring for the benchmarks: opt-in timing, smoke sizes, threads, machine info.

Benchmarks are timed only when asked: ``--benchmark-only``, ``--benchmark-enable`` or an option
that stores results (``--benchmark-json``, ``--benchmark-save``, ``--benchmark-autosave``,
``--benchmark-compare``).  Otherwise -- a plain ``pytest`` or ``pytest -n auto``, as in CI -- each
benchmark body runs once as a smoke test, at small sizes only, so the files cannot rot and the
test run stays fast.  (pytest-benchmark itself also turns timing off under pytest-xdist.)
"""

from __future__ import annotations

import os
import platform

import pytest
import torch

from benchmarks import (
    CHECK_SIZES,
    DEVICES_OPTION,
    DRAW_SIZES,
    MALLOC_OPTION,
    SMOKE_CHECK_SIZES,
    SMOKE_DRAW_SIZES,
    SMOKE_SIZES,
    THREADS_OPTION,
    TIMED_SIZES,
)
from benchmarks.allocator import REGIMES, set_regime
from benchmarks.inputs import builtin_specs

try:
    import pytest_benchmark  # noqa: F401
except ImportError:  # installed without the test/bench extra: the benchmark files cannot run
    collect_ignore_glob = ["test_bench_*.py"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograd-props benchmarks")
    group.addoption(
        THREADS_OPTION,
        type=int,
        default=None,
        metavar="N",
        help="torch.set_num_threads(N) for the benchmarks (default and 0: torch's default)",
    )
    group.addoption(
        DEVICES_OPTION,
        default=None,
        metavar="cpu,cuda",
        help="devices to time on (default: cpu, plus cuda when present)",
    )
    group.addoption(
        MALLOC_OPTION,
        choices=REGIMES,
        default="fresh",
        help="the C allocator's regime for a timed run (allocator.py; default: fresh, so every round pays the "
        "page faults of its large tensors, whatever glibc's adaptive thresholds were left at by the rounds before)",
    )


def timing_requested(config: pytest.Config) -> bool:
    """True when the benchmarks are to be timed (see the module docstring)."""
    get = config.getoption
    if get("benchmark_disable", False) and not get("benchmark_enable", False):
        return False
    if config.getoption("dist", "no") != "no" or os.environ.get("PYTEST_XDIST_WORKER"):
        return False  # pytest-benchmark disables timing under xdist
    asked = ("benchmark_only", "benchmark_enable", "benchmark_json", "benchmark_save", "benchmark_autosave", "benchmark_compare")
    return any(get(name, None) for name in asked)


_ALLOCATOR_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    threads = config.getoption(THREADS_OPTION)
    if threads:
        torch.set_num_threads(threads)
    # Only a timed run changes the allocator: a smoke run inside the tests keeps the process as it is.
    regime = config.getoption(MALLOC_OPTION) if timing_requested(config) else "adaptive"
    config.stash[_ALLOCATOR_KEY] = set_regime(regime)


def _devices(config: pytest.Config) -> list[str]:
    option = config.getoption(DEVICES_OPTION)
    present = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if option is None:
        return present
    chosen = [d.strip() for d in option.split(",") if d.strip()]
    unknown = [d for d in chosen if d not in ("cpu", "cuda")]
    if unknown or not chosen:
        raise pytest.UsageError(f"{DEVICES_OPTION} {option!r}: choose from cpu, cuda")
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``spec`` (with ``impl``), ``numel``/``check_numel``/``draw_numel`` and ``device``.

    Sizes are the timed ones only when timing was asked for; otherwise the smoke sizes.
    """
    config = metafunc.config
    timed = timing_requested(config)
    names = metafunc.fixturenames
    if "spec" in names and "impl" in names:
        # The module's impls_for(spec) says which implementations each Function is timed in.
        pairs = [(spec, impl) for spec in builtin_specs() for impl in metafunc.module.impls_for(spec)]
        metafunc.parametrize(("spec", "impl"), pairs, ids=[f"{spec.name}-{impl}" for spec, impl in pairs])
    elif "spec" in names:
        metafunc.parametrize("spec", builtin_specs(), ids=lambda s: s.name)
    if "numel" in names:
        metafunc.parametrize("numel", TIMED_SIZES if timed else SMOKE_SIZES, ids=lambda n: f"n{n}")
    if "check_numel" in names:
        metafunc.parametrize("check_numel", CHECK_SIZES if timed else SMOKE_CHECK_SIZES, ids=lambda n: f"n{n}")
    if "draw_numel" in names:
        metafunc.parametrize("draw_numel", DRAW_SIZES if timed else SMOKE_DRAW_SIZES, ids=lambda n: f"n{n}")
    if "device" in names:
        devices = _devices(config)
        params = [
            pytest.param(d, marks=pytest.mark.skip(reason="CUDA is not available")) if d == "cuda" and not torch.cuda.is_available() else d
            for d in devices
        ]
        metafunc.parametrize("device", params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Time the implementations of one Function at one size back to back (custom, then native).

    Parametrization runs every size of custom before any of native; on a loaded machine the
    load drifts in between, so each ratio would compare two different moments.  A stable sort
    by (test, Function, size, device) keeps the impl order and puts the pair side by side.
    """
    order = {spec.name: i for i, spec in enumerate(builtin_specs())}

    def key(item: pytest.Item):
        params = getattr(item, "callspec", None)
        params = params.params if params is not None else {}
        if not {"spec", "impl"} <= params.keys():
            return None
        size = params.get("numel", params.get("check_numel", 0))
        return (item.fspath, item.originalname, order.get(params["spec"].name, -1), size, str(params.get("device", "")))

    groups: dict[tuple, list[int]] = {}
    for i, item in enumerate(items):
        k = key(item)
        if k is not None:
            groups.setdefault(k[:2], []).append(i)
    for positions in groups.values():
        ordered = sorted((items[i] for i in positions), key=key)
        for i, item in zip(positions, ordered):
            items[i] = item


@pytest.fixture
def timed(request) -> bool:
    """Whether this run times the benchmarks (else each body runs once, as a smoke test)."""
    return timing_requested(request.config)


@pytest.fixture
def benchmark(benchmark, request):
    """pytest-benchmark's fixture, with timing off unless it was asked for (a smoke run)."""
    if not timing_requested(request.config):
        benchmark.disabled = True
    return benchmark


@pytest.hookimpl(optionalhook=True)  # pytest-benchmark's hooks: optional, so a missing plugin is no error
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """Record what the numbers depend on: torch and Python versions, threads, device, allocator."""
    devices = ["cpu"]
    cpu = machine_info.get("cpu") or {}
    device_name = cpu.get("brand_raw") or platform.processor() or platform.machine()
    if torch.cuda.is_available():
        devices.append("cuda")
        device_name += " + " + torch.cuda.get_device_name(0)
    machine_info["torch_version"] = torch.__version__
    machine_info["torch_cuda"] = torch.version.cuda
    machine_info["python_version"] = platform.python_version()
    machine_info["torch_num_threads"] = torch.get_num_threads()
    machine_info["devices"] = devices
    machine_info["device"] = device_name
    machine_info["cpu_count"] = os.cpu_count()
    machine_info["malloc"] = config.stash.get(_ALLOCATOR_KEY, "adaptive")


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    """The load average at the end of the run (not in machine_info: it differs every run, and
    pytest-benchmark warns when machine_info differs from a compared run's).  Each round's raw
    time is dropped: ``--benchmark-json`` always writes them, tens of MB for a full run, and the
    report reads only the statistics."""
    for bench in output_json.get("benchmarks", []):
        bench.get("stats", {}).pop("data", None)
    try:
        output_json["loadavg"] = list(os.getloadavg())
    except OSError:  # not on every platform
        pass
