"""Shards: ``--shard K/N`` runs the K-th of N parts of a run's cells, split by expected cost.

The split is a pure function of the cells and their costs: every shard of one run computes the
same one, whatever order its cells were collected in.  A cell's cost is the seconds it took when
it last ran in an unsharded run (recorded in pytest's cache), else an estimate from the model
below.  Shard runs themselves never record durations, so the shards of one run, started from the
same cache (or from none), all see the same costs; each part records a digest of them, and the
merge refuses parts planned with different ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Shard", "ShardPlan", "estimated_seconds", "parse_shard", "partition", "plan_shards"]

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclasses.dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/3"`` as Shard(2, 3); anything else raises ValueError with a one-line message."""
    match = _SHARD.fullmatch(text or "")
    if not match:
        raise ValueError(f"--shard {text!r}: expected K/N, the K-th of N shards (e.g. --shard 2/3)")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise ValueError(f"--shard {text}: expected K/N with 1 <= K <= N, the K-th of N shards (e.g. --shard 2/3)")
    return Shard(index, count)


# Seconds per example of each property for a small-sized spec in float64: the median over the
# built-in specs of README's main job (docs/incremental-and-shards.md).  Only their ratios matter;
# a property not listed costs the median.
PER_EXAMPLE_SECONDS: Mapping[str, float] = {
    "compile": 3.11,
    "opcheck_aot_dispatch_dynamic": 1.78,
    "opcheck_schema": 0.326,
    "meta_device": 0.174,
    "double_backward": 0.167,
    "extreme_values": 0.151,
    "special_values": 0.129,
    "opcheck_faketensor": 0.124,
    "memory": 0.12,
    "vmap": 0.106,
    "forward_ad": 0.0772,
    "opcheck_autograd_registration": 0.075,
    "deterministic_backward": 0.048,
    "needs_input_grad": 0.0444,
    "layouts": 0.0388,
    "saved_tensor_hygiene": 0.0368,
    "vjp_finite_differences": 0.0232,
    "no_mutation": 0.0192,
    "unused_outputs": 0.018,
    "vjp_native": 0.0164,
    "gradient_contract": 0.0148,
    "forward": 0.0098,
}
_LOW_PRECISION = 1.0  # float32/16 and bfloat16 cells relative to float64 ones (measured: 1.04)
_LARGE = 4.0  # a spec drawn at large sizes (measured: the median property's cells, 3.8x)
_SKIPPED = 0.001  # a cell that will not run still costs its report line


def estimated_seconds(prop: str, examples: int, *, large: bool = False, skipped: bool = False, dtype: str = "float64") -> float:
    """The model's cost of one cell: its property's seconds per example times its example budget."""
    if skipped:
        return _SKIPPED
    weights = sorted(PER_EXAMPLE_SECONDS.values()) or [0.01]
    per_example = PER_EXAMPLE_SECONDS.get(prop, weights[len(weights) // 2])
    factor = (_LARGE if large else 1.0) * (1.0 if dtype in ("float64", "complex128") else _LOW_PRECISION)
    return per_example * max(examples, 1) * factor


def partition(costs: Mapping[str, float], count: int) -> list[list[str]]:
    """The cells (keys of ``costs``) in ``count`` groups of nearly equal total cost: the costliest
    cell first, each to the group with the least so far (ties: the lower group, then the key)."""
    groups: list[list[str]] = [[] for _ in range(count)]
    heap = [(0.0, i) for i in range(count)]
    for key in sorted(costs, key=lambda k: (-costs[k], k)):
        total, i = heapq.heappop(heap)
        groups[i].append(key)
        heapq.heappush(heap, (total + costs[key], i))
    return [sorted(g) for g in groups]


def costs_digest(costs: Mapping[str, float]) -> str:
    text = json.dumps(sorted((k, round(v, 6)) for k, v in costs.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class ShardPlan:
    """What one shard owns of a run: recorded in its report part, checked by the merge."""

    shard: Shard
    cells: tuple[str, ...]  # every cell of the run (after -m and -k), sorted
    owned: tuple[str, ...]  # this shard's, sorted
    costs: str  # digest of the costs the split was computed from
    expected_seconds: float  # this shard's share of the expected cost
    measured: int  # how many of the costs were measured durations, not estimates

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.shard.index,
            "count": self.shard.count,
            "cells": list(self.cells),
            "owned": list(self.owned),
            "costs": self.costs,
            "expected_seconds": round(self.expected_seconds, 1),
            "measured_costs": self.measured,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShardPlan:
        return cls(
            Shard(int(data["index"]), int(data["count"])),
            tuple(data["cells"]),
            tuple(data["owned"]),
            str(data["costs"]),
            float(data.get("expected_seconds", 0.0)),
            int(data.get("measured_costs", 0)),
        )


def plan_shards(shard: Shard, estimates: Mapping[str, float], durations: Mapping[str, float]) -> ShardPlan:
    """``shard``'s part of the cells of ``estimates`` (the model's costs), using a measured
    duration wherever ``durations`` has one."""
    costs = {key: durations.get(key, estimate) for key, estimate in estimates.items()}
    groups = partition(costs, shard.count)
    owned = groups[shard.index - 1]
    return ShardPlan(
        shard,
        tuple(sorted(costs)),
        tuple(owned),
        costs_digest(costs),
        sum(costs[k] for k in owned),
        sum(1 for k in estimates if k in durations),
    )


def owners(plans: Sequence[ShardPlan]) -> dict[str, int]:
    """Cell key -> the index of the shard that owned it."""
    return {key: plan.shard.index for plan in plans for key in plan.owned}
