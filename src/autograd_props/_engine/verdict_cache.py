"""The verdict cache: a cell whose fingerprint is unchanged since it passed is not run again.

Entries live in pytest's cache (``config.cache``, ``.pytest_cache/`` by default: CI's cache step
keeps it) under one key, ``autograd_props/verdicts``: ``{cell key: {fingerprint, date, result}}``.
Only passes are stored, and only by the process that gathers the run's results (the only one, or
pytest-xdist's controller), at the end of the run; workers only read.  A cell that ran again and
did not pass loses its entry.  Cell durations, which shards use to balance their work, are kept
next to them under ``autograd_props/durations``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from autograd_props._engine.fingerprint import RunSettings, cell_fingerprint, spec_digest
from autograd_props.results import CellResult

__all__ = ["DURATIONS_KEY", "VERDICTS_KEY", "Store", "VerdictCache", "read_durations", "record_durations"]

VERDICTS_KEY = "autograd_props/verdicts"
DURATIONS_KEY = "autograd_props/durations"


class Store(Protocol):
    """What the cache needs of pytest's ``config.cache``."""

    def get(self, key: str, default: Any) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class VerdictCache:
    """Lookups for one process of a run, and the recording of its results at the end."""

    def __init__(self, store: Store | None, run: RunSettings, *, reuse: bool) -> None:
        self.store = store
        self.run = run
        self.reuse = reuse  # False under --no-cache: every cell runs (and passes are stored afresh)
        self._entries: dict[str, Any] | None = None
        self._spec_digests: dict[int, tuple[Any, str]] = {}
        self._run_digest: str | None = None

    @property
    def off_because(self) -> str | None:
        """Why this run neither reads nor writes verdicts, or None when it does."""
        if self.store is None:
            return "pytest's cache is off (-p no:cacheprovider)"
        if not self.run.deterministic:
            return (
                f"the profile {self.run.profile} draws new examples on every run "
                "(a derandomized profile such as autograd-props-ci, or --hypothesis-seed N, caches passes)"
            )
        return None

    def fingerprint(self, cell: Any) -> str | None:
        if self.off_because is not None:
            return None
        spec = cell.spec
        known = self._spec_digests.get(id(spec))
        if known is None or known[0] is not spec:
            known = self._spec_digests[id(spec)] = (spec, spec_digest(spec))
        if self._run_digest is None:
            self._run_digest = self.run.digest()
        return cell_fingerprint(known[1], self._run_digest, cell.prop, cell.dtype_name, cell.device)

    def lookup(self, key: str, fingerprint: str | None) -> dict[str, Any] | None:
        """The stored pass of the cell ``key`` when its fingerprint is ``fingerprint``, else None."""
        if not self.reuse or fingerprint is None:
            return None
        if self._entries is None:
            self._entries = _read(self.store, VERDICTS_KEY)
        entry = self._entries.get(key)
        if not isinstance(entry, dict) or entry.get("fingerprint") != fingerprint or not isinstance(entry.get("result"), dict):
            return None
        return entry

    def record(self, results: Iterable[tuple[CellResult, str | None]]) -> None:
        """Store each fresh pass; drop the entry of each cell that ran and did not pass."""
        if self.off_because is not None:
            return
        entries = _read(self.store, VERDICTS_KEY)  # as it is now: another run may have added to it
        changed = False
        date = now()
        for result, fingerprint in results:
            if result.cached:
                continue
            if result.outcome == "passed" and fingerprint is not None:
                stored = result.to_json()
                for volatile in ("test_id", "output", "duration", "cached", "key"):
                    stored.pop(volatile, None)
                entries[result.key] = {"fingerprint": fingerprint, "date": date, "result": stored}
                changed = True
            elif result.outcome in ("failed", "xfailed", "xpassed") and entries.pop(result.key, None) is not None:
                changed = True
        if changed:
            self.store.set(VERDICTS_KEY, entries)


def _read(store: Store | None, key: str) -> dict[str, Any]:
    value = store.get(key, {}) if store is not None else {}
    return dict(value) if isinstance(value, Mapping) else {}


def read_durations(store: Store | None) -> dict[str, float]:
    """Seconds each cell took when it last ran in an unsharded run (see :func:`record_durations`)."""
    return {k: float(v) for k, v in _read(store, DURATIONS_KEY).items() if isinstance(v, (int, float)) and v >= 0}


def record_durations(store: Store | None, results: Iterable[CellResult]) -> None:
    """Keep the time of each cell that ran (not the cached ones, which took no time)."""
    if store is None:
        return
    fresh = {r.key: round(r.duration, 3) for r in results if r.duration is not None and not r.cached}
    if fresh:
        store.set(DURATIONS_KEY, {**_read(store, DURATIONS_KEY), **fresh})
