"""Merging the report parts of a sharded run (``--shard K/N``) into the report of one run.

Each part records the run's full cell list and the cells its shard owned (see ``shards.py``).
The merge checks that the parts belong to one run (the same shard count, cells and costs), that
each shard appears once, and that every cell has its result; it then writes the report an
unsharded run writes, and returns the exit code that run would have had.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograd_props._engine.shards import ShardPlan
from autograd_props.results import RAN, CellResult

__all__ = ["MergeError", "Merged", "merge_parts", "read_part"]


class MergeError(Exception):
    """The parts cannot make one run's report; the message says which and why."""


def read_part(path: Path) -> dict[str, Any]:
    """The JSON report of a part: ``path`` itself, or ``path/verification.json`` for a directory."""
    file = path / "verification.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise MergeError(f"{path}: no report part there ({file} does not exist)") from None
    except (OSError, ValueError) as exc:
        raise MergeError(f"{path}: cannot read a report part ({exc})") from None
    if not isinstance(data, dict) or "part" not in data:
        raise MergeError(f"{file}: not the report part of a shard (a run with --shard K/N writes one)")
    if str(data.get("header", {}).get("state", "")) == "running":
        raise MergeError(f"{file}: that shard's run did not finish (its report still says RUNNING)")
    return data


class Merged:
    """The merged run: its results in report order, header, cells not run and exit code."""

    def __init__(self, results: list[CellResult], header: dict[str, str], not_run: list[str] | None, exit_code: int) -> None:
        self.results = results
        self.header = header
        self.not_run = not_run
        self.exit_code = exit_code


def merge_parts(paths: Sequence[Path]) -> Merged:
    from autograd_props.plugin.collector import report_order

    parts = [(path, read_part(path)) for path in paths]
    plans = [(path, ShardPlan.from_json(data["part"])) for path, data in parts]
    first_path, first = plans[0]
    for path, plan in plans[1:]:
        if plan.shard.count != first.shard.count:
            raise MergeError(f"{path} is shard {plan.shard} but {first_path} is shard {first.shard}: parts of different splits")
        if plan.cells != first.cells or plan.costs != first.costs:
            raise MergeError(
                f"{path} (shard {plan.shard}) and {first_path} (shard {first.shard}) were split from different cells or "
                "costs: the shards of one run must select the same cells (-m, -k, specs) and start from the same cache"
            )
    seen: dict[int, Path] = {}
    for path, plan in plans:
        if plan.shard.index in seen:
            raise MergeError(f"shard {plan.shard} given twice: {seen[plan.shard.index]} and {path}")
        seen[plan.shard.index] = path
    count = first.shard.count
    missing = [i for i in range(1, count + 1) if i not in seen]
    if missing:
        owned = {key for _, plan in plans for key in plan.owned}
        absent = [key for key in first.cells if key not in owned]
        shown = ", ".join(absent[:20]) + (f", ... ({len(absent)} in all)" if len(absent) > 20 else "")
        raise MergeError(
            f"shard{'s' if len(missing) > 1 else ''} {', '.join(f'{i}/{count}' for i in missing)} missing: "
            f"{len(absent)} cells have no result: {shown}"
        )
    results: list[CellResult] = []
    not_run: list[str] = []
    interrupted = False
    for (path, data), (_, plan) in zip(parts, plans):
        owned = set(plan.owned)
        part_results = [CellResult.from_json(cell) for cell in data.get("cells", [])]
        stray = [r.key for r in part_results if r.key not in owned]
        if stray:
            raise MergeError(f"{path} (shard {plan.shard}) has results for cells it did not own: {', '.join(stray[:10])}")
        results += part_results
        done = {r.key for r in part_results}
        if str(data["header"].get("state", "")).startswith("interrupted"):
            interrupted = True
        not_run += [key for key in plan.owned if key not in done]
    if not_run and not interrupted:
        raise MergeError(f"the parts have no result for {len(not_run)} cells they owned: {', '.join(not_run[:20])}")
    specs = list(parts[0][1]["part"].get("specs", []))
    results.sort(key=report_order(specs))
    header = {k: v for k, v in parts[0][1]["header"].items() if k not in ("part", "state")}
    dates = [str(data["header"].get("date", "")) for _, data in parts]
    header["date"] = max(dates)
    header["merged from"] = f"{count} shards"
    return Merged(results, header, not_run if interrupted else None, _exit_code(results, interrupted))


def _exit_code(results: list[CellResult], interrupted: bool) -> int:
    """The exit code of one unsharded run with these results (pytest's codes)."""
    if interrupted:
        return 2
    if any(r.outcome == "failed" for r in results):
        return 1
    if not any(r.outcome in RAN for r in results):
        return 5
    return 0
