"""Hypothesis profiles for the gate, registered under the project's prefix so that they never
replace a user's own ``ci`` or ``dev``.

Registering them changes nothing by itself: the gate's tests use one of them only when the user
chose no profile (``--hypothesis-profile``, or ``check(profile=...)``); a user's other Hypothesis
tests keep whatever profile they load.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

__all__ = ["CI", "DEV", "LARGE", "META", "THOROUGH", "default_profile", "draws_large", "gate_settings"]

CI = "autograd-props-ci"
DEV = "autograd-props-dev"
THOROUGH = "autograd-props-thorough"
META = "autograd-props-meta"
LARGE = "autograd-props-large"

# deadline=None: torch's first call of an op (dispatcher warm-up, lazy init) can take far longer
# than later ones, which Hypothesis would report as flaky deadlines.
# database=None for CI: a derandomized run replays nothing, so it writes no .hypothesis/ folder.
# Each profile starts from Hypothesis's own defaults, not from whatever profile is loaded: where
# Hypothesis detects CI (the CI variable) it loads its "ci" profile, which would otherwise make
# the dev profile derandomized and turn on print_blob, whose advice (add @reproduce_failure to the
# test) is about a test the user does not own; every failure carries a reproducer of its own.
_HYPOTHESIS_DEFAULTS = settings.get_profile("default")


# No explain phase: its account of the lines "always and only run by failing cases" points into the
# suite's own modules, never the user's (the Function runs on passing cases too), and it reruns
# the failing example many times over.
GATE_PHASES = tuple(p for p in Phase if p is not Phase.explain)


def _register(name: str, **options) -> None:
    options.setdefault("phases", GATE_PHASES)
    settings.register_profile(name, _HYPOTHESIS_DEFAULTS, deadline=None, print_blob=False, **options)


# too_slow is a wall-clock check: on a shared, loaded CI machine it would fail a derandomized run
# at random (Hypothesis's own CI profile suppresses it for the same reason).
_register(CI, derandomize=True, database=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
_register(DEV, max_examples=15)
_register(THOROUGH, max_examples=400)
# For the suite's meta-tests, which only ask whether the gate fails a planted bug and which
# property fails: shrinking (most of a failing run's time) tells them nothing.  15 examples, not
# 25: every mutant of the corpus fails its aimed property by its 9th example (most by the 4th), and
# the twins' precision is measured by the soak (20 seeds x 25 examples), not by this profile.
_register(
    META, derandomize=True, database=None, max_examples=15, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
)


# Every spec at large sizes (sizes.py), derandomized: an example of up to a million elements costs
# seconds, so fewer of them; too_slow suppressed as in CI, and a large example is slow by design.
_register(LARGE, derandomize=True, database=None, max_examples=10, suppress_health_check=[HealthCheck.too_slow])


def draws_large(profile: str | None) -> bool:
    """Whether ``profile`` draws every spec at large sizes."""
    return profile == LARGE


def default_profile() -> str:
    """The derandomized profile wherever ``CI`` is set, else the random one."""
    return CI if os.environ.get("CI") else DEV


def gate_settings(profile: str | None = None) -> settings:
    """The settings the gate's examples run under: ``profile``'s, else :func:`default_profile`'s."""
    return settings.get_profile(profile or default_profile())
