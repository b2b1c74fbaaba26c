"""Evaluating the benchmark targets (issues 6, 13 and 17) on a run: every target, met or MISSED with its reason.

Ratios are of medians.  A missed target is shown as MISSED with its reason, never left out.
"""

from __future__ import annotations

import dataclasses

from benchmarks.formatting import fmt_ratio, fmt_time
from benchmarks.runs import Run, _baselines, _median_of, _saved_of, ratio

__all__ = ["GATE_CHECKS", "LESS_WORK", "MISS_REASONS", "RECOMPUTING", "TargetResult", "evaluate_targets"]

# The targets (issue 6).  Ratios are custom / native of median times or of saved bytes.
TIME_RATIO_MAX = 1.05
RECOMPUTE_TIME_RATIO_MAX = 2.0  # a Function that recomputes in backward to save memory
OVERHEAD_MAX_US = 15.0
SAVED_RATIO_MAX = 1.0
ORACLE_VS_SLOW_MAX = 0.01
ORACLE_VS_FAST_MAX = 1.0
CHECK_TARGET_NUMEL = 1000
CHECK_VS_FUNCTION_MAX = 10.0  # the whole check at 10^6 elements: at most 10x the Function's fwd+bwd (issue 17)
FAILING_RUN_RATIO_MAX = 3.0  # a gate run over a failing Function / over its correct twin (issue 13)
LARGE_NUMEL = 1_000_000  # "at 1M elements": the largest timed size, which must be at least this
DRAW_VS_RANDN_MAX = 5.0  # drawing a 1M-element float32 tensor: at most 5x torch.randn ... (issue 17)
DRAW_OVERHEAD_MAX_S = 5e-3  # ... plus a fixed overhead under 5 ms
# The checks issue 17's targets are for: vjp_finite_differences and vjp_native as a property runs
# them by default (strict first, strict_first.py).  The sized checks ("oracle", "oracle-native",
# "oracle-fd") run only on an example the strict pass does not judge clean, or everywhere with
# AUTOGRAD_PROPS_STRICT_FIRST=0; their ratios are in the checking table, not targets.
GATE_CHECKS = ("oracle-strict", "oracle-native-strict")

# Functions that recompute in backward to save memory: their time target is RECOMPUTE_TIME_RATIO_MAX
# against every native baseline, and their saved bytes must be below (not only at most) 1.0
# against the baseline that saves more.
RECOMPUTING = {"silu": "saves x only and recomputes sigmoid(x) in backward"}
# Functions that do less work than their native reference: expected below 1.0.
LESS_WORK = {
    "square": "x * x and g * 2 * x, where native pow(x, 2) goes through the general pow kernels",
    "grad_reverse": "a clone and a scaled gradient, where the native reference needs isfinite/where to express the surrogate",
}
# Why a target is missed, where the reason is known (key: "<target>:<function>", or
# "<target>:*" for every Function).  Shown only beside a miss; a miss with no entry says so.
_APPLY = "Function.apply's own cost (Python forward, setup_context and backward) is ~12 µs at 1 element here"
_FRESH = "under the fresh allocator (benchmarks/allocator.py) every fresh tensor pays its page faults, so the extra one shows"
MISS_REASONS: dict[str, str] = {
    "time @1M:sort": (
        "its backward scatters out of place into zeros_like (two fresh 10^6-element tensors) where native's writes "
        f"into one; {_FRESH} (1.009 in the adaptive run of 2026-12-02)"
    ),
    "time @1M:embedding": (
        "its backward index_adds out of place into new_zeros (two fresh tensors of the weight's size) where "
        f"native's accumulates into one; {_FRESH} (1.013 in the adaptive run of 2026-12-02)"
    ),
    "overhead @1:affine": f"{_APPLY}; backward adds per-input needs_input_grad checks, sum_to_shape and float32 casts (about 10 torch calls in Python, 1-3 µs each)",
    "overhead @1:logsumexp": f"{_APPLY}; its own stable forward makes ~10 torch calls (amax, isinf/where, sub, exp, sum, log, add, squeeze) and backward ~5, where native is one C++ op each way",
    "overhead @1:linear": f"{_APPLY}; forward and backward make ~10 torch calls (casts, matmul, add, reshape, two matmuls, sum) where native is one addmm node",
    "overhead @1:layernorm": f"{_APPLY}; backward recomputes mean/rstd with a native forward and then calls the native backward kernel, plus Python bookkeeping",
    "overhead @1:softmax": _APPLY + "; its body is one kernel each way, so this is apply's fixed cost, under the machine's load",
    "overhead @1:relu": _APPLY + "; its body is one kernel each way, so this is apply's fixed cost, under the machine's load",
    "overhead @1:exp": _APPLY + "; its body is one kernel each way, so this is apply's fixed cost, under the machine's load",
    "overhead @1:silu": _APPLY + "; its body is one kernel each way, so this is apply's fixed cost, under the machine's load",
    "overhead @1:square": _APPLY + "; its body is one or two kernels each way, so this is apply's fixed cost, under the machine's load",
    "time @1M:relu": (
        "the same kernels as native (clamp_min, threshold_backward); its fwd+bwd at 1M is only ~0.3 ms on one thread "
        "here, so Function.apply's fixed ~13 µs is ~5% by itself, and the custom path showed a further size-dependent "
        "extra of tens of µs that I did not trace; on this shared machine the ratio also moves by tens of percent "
        "between identical runs (docs/benchmarking.md: noise)"
    ),
    "time @1M:softmax": (
        "the same kernels as native (softmax, _softmax_backward_data); apply's fixed ~13 µs is ~2% of its ~0.7 ms, "
        "the rest is a size-dependent extra on the custom path that I did not trace, plus load noise: the ratio moves "
        "by tens of percent between identical runs here (docs/benchmarking.md: noise)"
    ),
    "time @1M:exp": "the same kernels as native (exp, mul); apply's fixed cost plus load noise, which moves this ratio by tens of percent between identical runs here (docs/benchmarking.md: noise)",
    "time @1M:silu": "the same kernels as F.silu (silu, silu_backward); apply's fixed cost plus load noise, which moves this ratio by tens of percent between identical runs here (docs/benchmarking.md: noise)",
    "time @1M:affine": "the same kernels as native (mul, add, sum); apply's fixed cost plus load noise, which moves this ratio by tens of percent between identical runs here (docs/benchmarking.md: noise)",
    "time @1M:logsumexp": "backward is native's formula and kernels; forward is its own stable version (amax, isinf/where on the row maxima, sub, exp, sum, log, add), a few small extra ops; plus load noise (docs/benchmarking.md: noise)",
    "time @1M:linear": "the same matmuls as native, but forward adds the bias in a separate pass where native's addmm fuses it; plus load noise (docs/benchmarking.md: noise)",
    "time @1M:layernorm": (
        "only x and weight are saved, so the first-order backward recomputes mean and rstd with a second native "
        "forward pass before the native backward kernel: two forwards and a backward against native's one and one "
        "(saving mean/rstd, 8 KiB at 1M elements, would remove it; the planted-bug corpus's twin (tests/corpus) reads exactly "
        "(x, weight) from ctx.saved_tensors)"
    ),
    "time @1M:sincos": "one pass more than native's two backward nodes (grad_cos is negated before its multiply), and apply's fixed cost; plus load noise (docs/benchmarking.md: noise)",
    "time @1M:scale_in_place": "the same kernels as native (mul_ in place, then a mul in backward); apply's fixed cost plus load noise (docs/benchmarking.md: noise)",
    "time @1M:softmax_temperature": "the same kernels as native (div, softmax, _softmax_backward_data, div); apply's fixed cost plus load noise (docs/benchmarking.md: noise)",
    "time @1M:chunked_cross_entropy": (
        "the fused-loss pattern trades time for memory: forward computes every chunk's gradient too (log_softmax, "
        "gather, exp, scatter_add, a divide and a copy into a zeroed buffer, in a Python loop over chunks of "
        "4,096 rows) and backward scales it, where native's forward is log_softmax and nll_loss and its "
        "backward their two fused kernels"
    ),
    "time @1M:silu_op": (
        "its register_autograd backward is the composite formula (two sigmoids, a multiply, an add, two more "
        "multiplies and a cast: about 7 passes) where native calls the fused silu_backward kernel; the built-in "
        "Function silu takes that kernel at first order, the custom op does not"
    ),
    "overhead @1:chunked_cross_entropy": f"{_APPLY}; its forward is a Python loop over chunks with about 12 torch calls per chunk (zeros, slices, log_softmax, gather, sum, exp, full_like, scatter_add, divide, copy), where native is two C++ ops each way",
    "overhead @1:silu_op": "a torch.library custom op: the op's Python wrapper, its autograd and fake registrations and the dispatcher's Python kernel, on top of a composite backward of about 7 torch calls, where native F.silu is one C++ op each way",
    "overhead @1:*": (
        "Function.apply's fixed cost (Python forward, setup_context and backward, the autograd node) plus its body's "
        "Python torch calls, 1-3 µs each; square, one kernel each way, shows the fixed cost on the same run"
    ),
}


@dataclasses.dataclass(frozen=True)
class TargetResult:
    run: str
    target: str  # e.g. "time @1M", key part of MISS_REASONS
    function: str
    against: str  # the baseline
    measured: str
    limit: str
    met: bool | None  # None: not measured

    @property
    def status(self) -> str:
        return "not measured" if self.met is None else ("met" if self.met else "**MISSED**")

    @property
    def reason(self) -> str:
        if self.met is not False:
            return ""
        return (
            MISS_REASONS.get(f"{self.target}:{self.function}")
            or MISS_REASONS.get(f"{self.target}:*")
            or "no reason recorded: investigate"
        )


def evaluate_targets(run: Run, device: str = "cpu") -> list[TargetResult]:
    """Every target of issues 6, 13 and 17, for every Function in the run, met or MISSED (never dropped)."""
    out: list[TargetResult] = []
    sizes = run.values("numel", measure="fwd+bwd", device=device)
    large = max(sizes) if sizes else None
    small = min(sizes) if sizes else None
    for function in run.functions("fwd+bwd"):
        custom_large = _median_of(run, "fwd+bwd", function, "custom", large, device)
        for base in _baselines(run, function):
            r = ratio(custom_large, _median_of(run, "fwd+bwd", function, base, large, device))
            if function in RECOMPUTING:
                limit, op = RECOMPUTE_TIME_RATIO_MAX, "<"
            elif function in LESS_WORK and base == "native":
                limit, op = 1.0, "<"
            else:
                limit, op = TIME_RATIO_MAX, "<="
            met = None if r is None or large < LARGE_NUMEL else (r < limit if op == "<" else r <= limit)
            out.append(TargetResult(run.label, "time @1M", function, base, fmt_ratio(r), f"{op} {limit:g}", met))
        custom_small = _median_of(run, "fwd+bwd", function, "custom", small, device)
        native_small = _median_of(run, "fwd+bwd", function, "native", small, device)
        overhead = None if custom_small is None or native_small is None else (custom_small - native_small) * 1e6
        out.append(
            TargetResult(
                run.label, "overhead @1", function, "native",
                "—" if overhead is None else f"{overhead:+.1f} µs", f"<= {OVERHEAD_MAX_US:g} µs",
                None if overhead is None else overhead <= OVERHEAD_MAX_US,
            )
        )
    mem_sizes = run.values("numel", measure="saved-bytes", device=device)
    if mem_sizes:
        n = max(mem_sizes)
        for function in run.functions("saved-bytes"):
            custom = _saved_of(run, function, "custom", n, device)
            bases = ["native"] + sorted(
                i for i in run.values("impl", function=function, measure="saved-bytes") if i.startswith("native") and i != "native"
            )
            ratios = {b: ratio(custom, _saved_of(run, function, b, n, device)) for b in bases}
            for base, r in ratios.items():
                native = _saved_of(run, function, base, n, device)
                if custom is not None and native == 0:  # 0 / 0: nothing saved by either
                    met, shown = custom == 0, ("0 / 0" if custom == 0 else "∞")
                else:
                    met, shown = (None if r is None else r <= SAVED_RATIO_MAX), fmt_ratio(r)
                out.append(TargetResult(run.label, "saved bytes", function, base, shown, f"<= {SAVED_RATIO_MAX:g}", met))
            if function in RECOMPUTING:  # below 1.0 against the baseline that saves the most
                best = min((r for r in ratios.values() if r is not None), default=None)
                out.append(
                    TargetResult(
                        run.label, "saved bytes (memory-efficient)", function, "the native baseline that saves most",
                        fmt_ratio(best), "< 1", None if best is None else best < 1.0,
                    )
                )
    for function in run.functions("check"):
        for oracle_impl in GATE_CHECKS:
            oracle = _median_of(run, "check", function, oracle_impl, CHECK_TARGET_NUMEL, "cpu")
            for impl, limit in (("gradcheck-slow", ORACLE_VS_SLOW_MAX), ("gradcheck-fast", ORACLE_VS_FAST_MAX)):
                target = f"{oracle_impl}/{impl} @{CHECK_TARGET_NUMEL}"
                r = ratio(oracle, _median_of(run, "check", function, impl, CHECK_TARGET_NUMEL, "cpu"))
                out.append(TargetResult(run.label, target, function, impl, fmt_ratio(r), f"<= {limit:g}", None if r is None else r <= limit))
        largest = max(run.values("numel", measure="check", function=function), default=0)
        if largest >= LARGE_NUMEL:
            for oracle_impl in GATE_CHECKS:
                r = ratio(_median_of(run, "check", function, oracle_impl, largest, "cpu"), _median_of(run, "check", function, "function", largest, "cpu"))
                out.append(
                    TargetResult(
                        run.label, f"{oracle_impl}/function @1M", function, "function", fmt_ratio(r),
                        f"<= {CHECK_VS_FUNCTION_MAX:g}", None if r is None else r <= CHECK_VS_FUNCTION_MAX,
                    )
                )
    for function in run.functions("draw"):
        filled = _median_of(run, "draw", function, "filled", LARGE_NUMEL, "cpu")
        randn = _median_of(run, "draw", function, "randn", LARGE_NUMEL, "cpu")
        limit = None if randn is None else DRAW_VS_RANDN_MAX * randn + DRAW_OVERHEAD_MAX_S
        out.append(
            TargetResult(
                run.label, "draw @1M", function, "randn", "—" if filled is None else fmt_time(filled),
                f"<= {DRAW_VS_RANDN_MAX:g} x randn + {DRAW_OVERHEAD_MAX_S * 1e3:g} ms" + ("" if limit is None else f" = {fmt_time(limit)}"),
                None if filled is None or limit is None else filled <= limit,
            )
        )
    for function in run.functions("gate-run"):
        r = ratio(_median_of(run, "gate-run", function, "sign-flipped", 0, "cpu"), _median_of(run, "gate-run", function, "correct", 0, "cpu"))
        limit = FAILING_RUN_RATIO_MAX
        out.append(TargetResult(run.label, "failing run", function, "correct", fmt_ratio(r), f"<= {limit:g}", None if r is None else r <= limit))
    return out
