"""What one pytest session of the gate knows: its options, its specs, its Hypothesis settings."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable

import pytest
from hypothesis import settings

from autograd_props import profiles
from autograd_props._engine.shards import Shard, parse_shard
from autograd_props.devices import available_devices, parse_devices
from autograd_props.loading import (
    BUILT_IN_SOURCE,
    ENV_VAR,
    SpecSourceError,
    load_specs,
    unique,
)
from autograd_props.plugin.expectations import (
    Expectation,
    ExpectationsFileError,
    read_expectations,
)
from autograd_props.properties import validate_opt_outs
from autograd_props.runner import DEFAULT_EXAMPLE_TIMEOUT, Budget
from autograd_props.spec import FunctionSpec, SpecError

__all__ = ["GateSession", "budget_of", "session_of"]


@dataclasses.dataclass
class GateSession:
    """The gate's view of a pytest session (kept in ``config.stash``)."""

    config: pytest.Config
    sources: tuple[str, ...]  # --funcs values, else $AUTOGRAD_PROPS_FUNCS, else ()
    origin: str  # "--funcs", "$AUTOGRAD_PROPS_FUNCS" or "built-in"
    devices: list[str]
    expectations: list[Expectation]
    profile_name: str
    shard: Shard | None = None  # --shard K/N
    _specs: tuple[Sourced, ...] | None = None
    _budget: Budget | None = None
    specs_seen: dict[str, int] = dataclasses.field(default_factory=dict)  # spec name -> order, as collected
    errors: list[str] = dataclasses.field(default_factory=list)  # gate classes whose specs failed to load
    not_inferred_seen: dict[str, None] = dataclasses.field(default_factory=dict)  # discovered Functions with no spec
    gate_sources: dict[str, None] = dataclasses.field(default_factory=dict)  # what the collected gate classes were given

    @classmethod
    def from_config(cls, config: pytest.Config) -> GateSession:
        funcs = [f for f in config.getoption("autograd_props_funcs") or [] if f.strip()]
        env = os.environ.get(ENV_VAR, "").strip()
        if funcs:
            sources, origin = tuple(dict.fromkeys(funcs)), "--funcs"
        elif env:
            sources, origin = (env,), f"${ENV_VAR}"
        else:
            sources, origin = (), "built-in"
        try:
            devices = parse_devices(config.getoption("autograd_props_devices"))
            present = available_devices()
            missing = [d for d in devices if d not in present]
            if missing and not config.getoption("autograd_props_skip_missing_devices"):
                raise ValueError(
                    f"--devices {','.join(devices)}: {', '.join(missing)} not available on this machine "
                    f"(available: {', '.join(present)}); --skip-missing-devices skips those cells instead"
                )
            expectations = [
                entry
                for kind in ("skip", "xfail")
                for path in config.getoption(f"autograd_props_{kind}s_file")
                for entry in read_expectations(path, kind)
            ]
            shard_option = config.getoption("autograd_props_shard")
            shard = parse_shard(shard_option) if shard_option is not None else None
        except (ValueError, ExpectationsFileError) as exc:
            raise pytest.UsageError(f"autograd-props: {exc}") from None
        profile = config.getoption("hypothesis_profile", None)
        session = cls(config, sources, origin, devices, expectations, profile or profiles.default_profile(), shard)
        if sources:  # asked for explicitly: a bad source is a usage error before anything runs
            try:
                session.session_specs()
            except SpecSourceError as exc:
                raise pytest.UsageError(f"autograd-props: {origin} {' '.join(map(repr, sources))}: {exc}") from None
        return session

    @property
    def settings(self) -> settings:
        return profiles.gate_settings(self.profile_name)

    @property
    def budget(self) -> Budget:
        if self._budget is None:
            timeout = self.config.getoption("autograd_props_example_timeout")
            if timeout is None:
                timeout = DEFAULT_EXAMPLE_TIMEOUT
            self._budget = Budget(
                self.settings,
                shrink_all=bool(self.config.getoption("autograd_props_full_shrink")),
                example_timeout=timeout or None,
                large_sizes=profiles.draws_large(self.profile_name),
            )
        return self._budget

    @property
    def source_label(self) -> str:
        """Where the run's specs came from: the gate classes' sources where pytest collected them
        (``gate("mypkg.checks")``), else the session's (--funcs, the variable, the built-ins)."""
        if self.gate_sources:
            return ", ".join(self.gate_sources)
        return ", ".join(self.sources) if self.sources else BUILT_IN_SOURCE

    def session_specs(self) -> tuple[Sourced, ...]:
        """The specs of ``--funcs`` (every value, names unique), else the environment's, else the built-ins."""
        if self._specs is None:
            try:
                self._specs = specs_from(self.sources or (BUILT_IN_SOURCE,))
            except SpecSourceError as exc:
                if self.sources or f"cannot import module {BUILT_IN_SOURCE!r}" not in str(exc):
                    raise
                raise SpecSourceError(
                    "no specs to check: gate() was given none, and neither --funcs nor $"
                    f"{ENV_VAR} names a module of them (the built-in {BUILT_IN_SOURCE!r} exists only in "
                    "autograd-props's own checkout); give them: gate(\"pkg.module\"), --funcs pkg.module or "
                    f"{ENV_VAR}=pkg.module"
                ) from None
        return self._specs

    def specs_for(self, given: object) -> tuple[Sourced, ...]:
        """The specs a gate class was given, each with the source its reproducers import it from."""
        if given is None:
            found = self.session_specs()
            self.gate_sources.update(dict.fromkeys(self.sources or (BUILT_IN_SOURCE,)))
        elif isinstance(given, str):
            found = specs_from((given,))
            self.gate_sources[given] = None
        else:
            items = (given,) if isinstance(given, FunctionSpec) else tuple(given)
            try:
                specs = unique((validate_opt_outs(s) for s in items), "gate(...)")
            except SpecError as exc:
                raise SpecSourceError(str(exc)) from None
            # None: each spec's reproducer imports it from the module that built it
            found = tuple(Sourced(s, None) for s in specs)
            self.gate_sources[f"gate({', '.join(s.name for s in specs)})"] = None
        for item in found:
            self.specs_seen.setdefault(item.spec.name, len(self.specs_seen))
        self.not_inferred_seen.update(dict.fromkeys(str(n) for n in getattr(given, "not_inferred", ())))
        if isinstance(given, str):
            self.not_inferred_seen.update(dict.fromkeys(not_inferred_of((given,))))
        return found

    def not_inferred(self) -> list[str]:
        """The Functions of ``discover:`` sources that have no inferred spec, each with why: the
        gate does not pass while there is one."""
        return list(dict.fromkeys([*not_inferred_of(self.sources), *self.not_inferred_seen]))


@dataclasses.dataclass(frozen=True)
class Sourced:
    """A spec and the source string it was loaded from (None when it was given as an object)."""

    spec: FunctionSpec
    source: str | None


def specs_from(sources: Iterable[str]) -> tuple[Sourced, ...]:
    """Every spec of every source, checked against the registry; names must be unique across them."""
    found = []
    for source in sources:
        try:
            found += [Sourced(validate_opt_outs(s), source) for s in load_specs(source)]
        except SpecError as exc:
            raise SpecSourceError(f"{source!r}: {exc}") from None
    unique((f.spec for f in found), " + ".join(sources))
    return tuple(found)


def not_inferred_of(sources: Iterable[str]) -> list[str]:
    """The Functions of the ``discover:TARGET`` sources among ``sources`` discovery could not infer."""
    from autograd_props.loading import DISCOVER_PREFIX

    missing = []
    for source in sources:
        if source.startswith(DISCOVER_PREFIX):
            from autograd_props.discovery import discover

            missing += [str(n) for n in discover(source[len(DISCOVER_PREFIX):]).not_inferred]
    return missing


_SESSION = pytest.StashKey[GateSession]()


def install(config: pytest.Config) -> GateSession:
    config.stash[_SESSION] = session = GateSession.from_config(config)
    return session


def session_of(config: pytest.Config) -> GateSession:
    return config.stash[_SESSION]


def budget_of(config: pytest.Config) -> Budget:
    return session_of(config).budget
