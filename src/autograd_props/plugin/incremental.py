"""The verdict cache and shards inside a pytest session.

A gate test asks :func:`reuse_pass` before it runs its cell: an unchanged cell that passed before
passes again without running, and its report says "passed (cached, <date>)".  :func:`select_shard`
deselects the cells another shard owns.
"""

from __future__ import annotations

import pytest

from autograd_props._engine.fingerprint import RunSettings
from autograd_props._engine.shards import ShardPlan, estimated_seconds, plan_shards
from autograd_props._engine.verdict_cache import VerdictCache, read_durations
from autograd_props.cell import Cell, cell_of
from autograd_props.plugin import CACHED_PROPERTY
from autograd_props.plugin.session import session_of

__all__ = ["CACHED_PROPERTY", "FINGERPRINT_PROPERTY", "reuse_pass", "select_shard", "verdict_cache"]

FINGERPRINT_PROPERTY = "autograd_props_fingerprint"  # on a test's report: what decided its verdict
_CACHE = pytest.StashKey[VerdictCache]()


def verdict_cache(config: pytest.Config) -> VerdictCache:
    if _CACHE not in config.stash:
        gate_session = session_of(config)
        budget = gate_session.budget
        run = RunSettings(
            gate_session.profile_name,
            gate_session.settings,
            config.getoption("hypothesis_seed", None),
            budget.example_timeout,
            budget.large_sizes,
        )
        store = getattr(config, "cache", None)
        config.stash[_CACHE] = VerdictCache(store, run, reuse=not config.getoption("autograd_props_no_cache"))
    return config.stash[_CACHE]


def reuse_pass(config: pytest.Config, cell: Cell) -> bool:
    """Whether ``cell`` passed before with the same fingerprint: it then carries that pass's
    examples, margin and notes, and the date it was verified, and need not run."""
    cache = verdict_cache(config)
    cell.fingerprint = cache.fingerprint(cell)
    entry = cache.lookup(cell.key, cell.fingerprint)
    if entry is None:
        return False
    result = entry["result"]
    cell.examples = int(result.get("examples", 0))
    cell.worst_margin = result.get("worst_margin")
    cell.notes = dict(result.get("notes") or {})
    cell.cached = str(entry.get("date", "an earlier run"))
    return True


def _examples(cell: Cell, config: pytest.Config) -> int:
    from autograd_props.properties import REGISTRY

    budget = int(cell.spec.hypothesis.get("max_examples", session_of(config).settings.max_examples))
    cap = REGISTRY[cell.prop].max_examples
    return min(budget, cap) if cap is not None else budget


def select_shard(config: pytest.Config, items: list[pytest.Item]) -> ShardPlan | None:
    """Under ``--shard K/N``: deselect the gate cells other shards own (tests that are not gate
    cells stay, in every shard) and return this shard's plan."""
    gate_session = session_of(config)
    if gate_session.shard is None:
        return None
    cells = {}
    for item in items:
        cell = cell_of(item)
        if cell is not None:
            cells[cell.key] = (item, cell)
    large = gate_session.budget.large_sizes
    estimates = {
        key: estimated_seconds(
            cell.prop,
            _examples(cell, config),
            large=large or cell.spec.sizes == "large",
            skipped=cell.skip is not None,
            dtype=cell.dtype_name,
        )
        for key, (_, cell) in cells.items()
    }
    plan = plan_shards(gate_session.shard, estimates, read_durations(getattr(config, "cache", None)))
    owned = set(plan.owned)
    deselected = [item for key, (item, _) in cells.items() if key not in owned]
    if deselected:
        gone = {id(item) for item in deselected}
        items[:] = [item for item in items if id(item) not in gone]
        config.hook.pytest_deselected(items=deselected)
    return plan
