"""Unit tests of the report builder (benchmarks/runs.py, targets.py, markdown.py, noise.py and the
command line in report.py) on small synthetic JSON."""

from __future__ import annotations

import json

import pytest

from benchmarks import report
from benchmarks.markdown import build_markdown
from benchmarks.noise import noise
from benchmarks.plot import plot_checks
from benchmarks.run import json_name
from benchmarks.runs import load_run
from benchmarks.targets import evaluate_targets


def _bench(function, impl, numel, median, measure="fwd+bwd", **extra):
    return {
        "name": f"test[{function}-{impl}-n{numel}]",
        "extra_info": {"function": function, "impl": impl, "numel": numel, "measure": measure, "device": "cpu", "shape": f"x ({numel},)", **extra},
        "stats": {"median": median, "iqr": 0.0, "rounds": 5},
    }


def _write(tmp_path, name, torch_version, benchmarks):
    path = tmp_path / name
    path.write_text(
        json.dumps(
            {
                "machine_info": {"python_version": "3.11.7", "torch_version": torch_version, "device": "cpu", "torch_num_threads": 1},
                "benchmarks": benchmarks,
                "datetime": "2025-01-01T00:00:00+00:00",
                "loadavg": [1.0, 1.5, 2.0],
            }
        )
    )
    return path


M = 1 << 20


def _run_a(tmp_path, torch_version="2.13.0+cpu", name="bench-py3.11-torch2.13.0.json", square_custom=0.8e-3):
    return _write(
        tmp_path,
        name,
        torch_version,
        [
            _bench("square", "custom", 1, 20e-6),
            _bench("square", "native", 1, 10e-6),
            _bench("square", "custom", M, square_custom),
            _bench("square", "native", M, 1.0e-3),
            _bench("silu", "custom", 1, 12e-6),
            _bench("silu", "native", 1, 10e-6),
            _bench("silu", "native-composite", 1, 11e-6),
            _bench("silu", "custom", M, 3.0e-3),
            _bench("silu", "native", M, 1.0e-3),
            _bench("silu", "native-composite", M, 2.0e-3),
            _bench("square", "custom", M, 0.0, measure="saved-bytes", saved_bytes=4 * M),
            _bench("square", "native", M, 0.0, measure="saved-bytes", saved_bytes=4 * M),
            _bench("silu", "custom", M, 0.0, measure="saved-bytes", saved_bytes=4 * M),
            _bench("silu", "native", M, 0.0, measure="saved-bytes", saved_bytes=4 * M),
            _bench("silu", "native-composite", M, 0.0, measure="saved-bytes", saved_bytes=8 * M),
            _bench("square", "oracle", 1000, 1e-3, measure="check"),
            _bench("square", "oracle-native", 1000, 0.5e-3, measure="check"),
            _bench("square", "oracle", 1_000_000, 50e-3, measure="check"),
            _bench("square", "oracle-native", 1_000_000, 5e-3, measure="check"),
            _bench("square", "function", 1_000_000, 2e-3, measure="check"),
            _bench("square", "gradcheck-fast", 1000, 2e-3, measure="check"),
            _bench("square", "gradcheck-slow", 1000, 1.0, measure="check"),
            _bench("square", "oracle-strict", 1000, 0.8e-3, measure="check"),
            _bench("square", "oracle-native-strict", 1000, 4e-3, measure="check"),
            _bench("square", "oracle-native-strict", 1_000_000, 16e-3, measure="check"),
            {"name": "unrelated", "extra_info": {}, "stats": {"median": 1.0}},
        ],
    )


def test_load_run_keeps_only_our_benchmarks(tmp_path):
    run = load_run(_run_a(tmp_path))
    assert run.label == "py3.11 torch 2.13.0+cpu"
    assert len(run.rows) == 25
    assert run.get("fwd+bwd", "square", "custom", M).median == 0.8e-3
    assert run.get("saved-bytes", "silu", "native-composite", M).saved_bytes == 8 * M


def test_function_table_rows(tmp_path):
    md = build_markdown([load_run(_run_a(tmp_path))], plot_name=None)
    # size | shape | custom | native | ratio | saved custom | saved native | saved ratio
    assert f"| {M} (1M) | x ({M},) | 800 µs | 1 ms | 0.800 | 4 MiB | 4 MiB | 1.000 |" in md
    assert "| 1 | x (1,) | 20 µs | 10 µs | 2.000 | — | — | — |" in md
    # silu: two baselines, each with its ratio
    assert f"| {M} (1M) | x ({M},) | 3 ms | 1 ms | 3.000 | 2 ms | 1.500 | 4 MiB | 4 MiB | 8 MiB | 1.000 | 0.500 |" in md
    # the checking table: oracle, oracle-native, oracle-fd, function, fast, slow, then oracle/slow,
    # oracle/fast, oracle-native/fast, oracle-fd/fast, oracle/function, oracle-native/function
    assert "| square | 1000 | 1 ms | 500 µs | — | — | 2 ms | 1 s | 0.001 | 0.500 | 0.250 | — | — | — |" in md
    assert "| square | 1000000 | 50 ms | 5 ms | — | 2 ms | — | — | — | — | — | — | 25.000 | 2.500 |" in md


def test_strict_first_table_rows(tmp_path):
    md = build_markdown([load_run(_run_a(tmp_path))], plot_name=None)
    # oracle-strict, oracle-native-strict, function, fast, then strict/fast, native-strict/fast,
    # strict/function, native-strict/function
    assert "| square | 1000 | 800 µs | 4 ms | — | 2 ms | 0.400 | 2.000 | — | — |" in md
    assert "| square | 1000000 | — | 16 ms | 2 ms | — | — | — | — | 8.000 |" in md
    targets = {(t.target, t.function): t for t in evaluate_targets(load_run(_run_a(tmp_path)))}
    assert targets[("oracle-strict/gradcheck-fast @1000", "square")].met is True  # 0.4
    assert targets[("oracle-native-strict/gradcheck-fast @1000", "square")].met is False  # 2
    assert targets[("oracle-native-strict/function @1M", "square")].met is True  # 8


def test_targets_met_and_missed_are_all_listed(tmp_path):
    targets = evaluate_targets(load_run(_run_a(tmp_path)))
    by = {(t.target, t.function, t.against): t for t in targets}
    assert by[("time @1M", "square", "native")].met is True  # 0.8 < 1.0 (less work)
    assert by[("time @1M", "silu", "native")].met is False  # 3.0 > 2 (recomputing)
    assert by[("time @1M", "silu", "native-composite")].met is True  # 1.5 < 2
    assert by[("overhead @1", "square", "native")].measured == "+10.0 µs"
    assert by[("overhead @1", "square", "native")].met is True
    assert by[("saved bytes (memory-efficient)", "silu", "the native baseline that saves most")].met is True
    assert by[("oracle-strict/gradcheck-slow @1000", "square", "gradcheck-slow")].met is True  # 0.0008
    assert by[("oracle-native-strict/gradcheck-slow @1000", "square", "gradcheck-slow")].met is True  # 0.004
    # the sized checks run only where the strict pass is not clean: their ratios are in the
    # checking table, and no target is evaluated on them
    assert not [t for t in targets if t.target.split("/")[0] in ("oracle", "oracle-native", "oracle-fd")]
    missed = by[("time @1M", "silu", "native")]
    assert missed.status == "**MISSED**" and missed.reason


def test_square_not_below_one_is_missed(tmp_path):
    targets = evaluate_targets(load_run(_run_a(tmp_path, square_custom=1.02e-3)))
    (t,) = [t for t in targets if (t.target, t.function) == ("time @1M", "square")]
    assert t.met is False  # within 1.05, but square does less work than native: it must be below 1


def test_two_torch_versions_side_by_side(tmp_path):
    a = load_run(_run_a(tmp_path))
    b = load_run(_run_a(tmp_path, "2.14.1+cu128", "bench-py3.11-torch2.14.1.json", square_custom=0.9e-3))
    md = build_markdown([a, b], plot_name=None)
    assert "time ratio @1M (py3.11 torch 2.13.0+cpu)" in md and "time ratio @1M (py3.11 torch 2.14.1+cu128)" in md
    assert f"| {M} (1M) | x ({M},) | py3.11 torch 2.13.0+cpu | 800 µs |" in md
    assert f"| {M} (1M) | x ({M},) | py3.11 torch 2.14.1+cu128 | 900 µs |" in md


def test_main_writes_markdown_and_plot(tmp_path):
    path = _run_a(tmp_path)
    out = tmp_path / "out"
    assert report.main([str(path), "--out", str(out)]) == 0
    assert (out / "benchmarks.md").read_text().count("### ") == 3  # square's, silu's, strict first's
    assert (out / "benchmarks.png").stat().st_size > 1000
    # the checks' own plot, beside their tables
    assert (out / "benchmarks-checks.png").stat().st_size > 1000
    assert "(benchmarks-checks.png)" in (out / "benchmarks.md").read_text()


def test_no_checks_plot_for_a_run_without_checks_or_draws(tmp_path):
    run = load_run(_run_a(tmp_path))
    run.rows[:] = [r for r in run.rows if r.measure == "fwd+bwd"]
    assert plot_checks([run], tmp_path / "checks.png") is None
    assert not (tmp_path / "checks.png").exists()


def test_noise_between_two_runs(tmp_path):
    a = load_run(_run_a(tmp_path))
    b = load_run(_run_a(tmp_path, name="b.json", square_custom=0.88e-3))
    changes = dict(noise(a, b))
    assert changes[f"square-custom-n{M}-cpu"] == pytest.approx(0.10)
    assert changes[f"square-native-n{M}-cpu"] == 0.0


def test_json_name():
    assert json_name("3.11.7", "2.13.0+cpu") == "bench-py3.11-torch2.13.0.json"
    assert json_name("3.12.1", "2.14.1") == "bench-py3.12-torch2.14.1.json"


@pytest.mark.parametrize(("failing", "met"), [(60.0, True), (90.0, True), (91.0, False)])
def test_failing_run_target_is_three_times_the_correct_run(tmp_path, failing, met):
    path = _write(
        tmp_path, "gate.json", "2.13.0+cpu",
        [_bench("softplus", "sign-flipped", 0, failing, measure="gate-run"), _bench("softplus", "correct", 0, 30.0, measure="gate-run")],
    )
    run = load_run(path)
    (t,) = [t for t in evaluate_targets(run) if t.target == "failing run"]
    assert (t.function, t.against, t.met) == ("softplus", "correct", met)
    assert f"| py3.11 torch 2.13.0+cpu | softplus | {failing:g} s | 30 s | {t.measured} |" in build_markdown([run], plot_name=None)


@pytest.mark.parametrize(("filled", "met"), [(12e-3, True), (16e-3, False)])
def test_draw_target_is_five_times_randn_plus_five_ms(tmp_path, filled, met):
    n = 1_000_000
    path = _write(tmp_path, "bench-draw.json", "2.13.0+cpu", [
        _bench("float32 tensor", "filled", n, filled, measure="draw"),
        _bench("float32 tensor", "randn", n, 2e-3, measure="draw"),
        _bench("float32 tensor", "elementwise", 1000, 0.1, measure="draw"),
    ])
    run = load_run(path)
    (target,) = [t for t in evaluate_targets(run) if t.target == "draw @1M"]
    assert target.met is met and target.limit == "<= 5 x randn + 5 ms = 15 ms"
    markdown = build_markdown([run], plot_name=None)
    assert f"| 1000000 | {filled * 1e3:g} ms | — | 2 ms | {filled / 2e-3:.3f} | {(filled - 2e-3) * 1e3:g} ms |" in markdown
    assert "| 1000 | — | 100 ms | — | — | — |" in markdown


def test_runs_table_says_each_runs_allocator(tmp_path):
    recorded = _run_a(tmp_path)
    data = json.loads(recorded.read_text())
    data["machine_info"]["malloc"] = "fresh (glibc mallopt: every block from 128 KiB mapped on allocation, unmapped on free)"
    recorded.write_text(json.dumps(data))
    older = _run_a(tmp_path, "2.14.1+cu128", "bench-py3.11-torch2.14.1.json")
    md = build_markdown([load_run(recorded), load_run(older)], plot_name=None)
    assert "| torch threads | cpus | allocator |" in md
    assert "| 1 | ? | fresh | 2025-01-01 00:00 |" in md
    assert "| 1 | ? | adaptive (not recorded) | 2025-01-01 00:00 |" in md
