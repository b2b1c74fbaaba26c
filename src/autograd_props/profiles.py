"""Hypothesis profiles for the gate, registered under the project's prefix so that they never
replace a user's own ``ci`` or ``dev``.

Registering them changes nothing by itself: the gate's tests use one of them only when the user
chose no profile (``--hypothesis-profile``, or ``check(profile=...)``); a user's other Hypothesis
tests keep whatever profile they load.
"""

from __future__ import annotations

import os

from hypothesis import Phase, settings

__all__ = ["CI", "DEV", "META", "THOROUGH", "default_profile", "gate_settings"]

CI = "autograd-props-ci"
DEV = "autograd-props-dev"
THOROUGH = "autograd-props-thorough"
META = "autograd-props-meta"

# deadline=None: torch's first call of an op (dispatcher warm-up, lazy init) can take far longer
# than later ones, which Hypothesis would report as flaky deadlines.
# database=None for CI: a derandomized run replays nothing, so it writes no .hypothesis/ folder.
# No print_blob: its advice (add @reproduce_failure to the test) is about a test the user does not
# own; every failure carries a reproducer of its own instead.
settings.register_profile(CI, derandomize=True, database=None, deadline=None, max_examples=25)
settings.register_profile(DEV, deadline=None, max_examples=15)
settings.register_profile(THOROUGH, deadline=None, max_examples=400)
# For the suite's meta-tests, which only ask whether the gate fails a planted bug and which
# property fails: shrinking (most of a failing run's time) tells them nothing.
settings.register_profile(
    META,
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=25,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)


def default_profile() -> str:
    """The derandomized profile wherever ``CI`` is set, else the random one."""
    return CI if os.environ.get("CI") else DEV


def gate_settings(profile: str | None = None) -> settings:
    """The settings the gate's examples run under: ``profile``'s, else :func:`default_profile`'s."""
    return settings.get_profile(profile or default_profile())
