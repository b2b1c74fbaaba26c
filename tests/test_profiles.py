"""The gate's Hypothesis profiles: prefixed names, CI derandomized, dev random, no advice about a
test the user does not own, whatever Hypothesis's own CI detection made of its defaults."""

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, settings

from autograd_props import profiles

PROFILES = [profiles.CI, profiles.DEV, profiles.THOROUGH, profiles.META]


@pytest.mark.parametrize("name", PROFILES)
def test_profile_names_carry_the_project_prefix_and_no_deadline(name):
    assert name.startswith("autograd-props-")
    assert settings.get_profile(name).deadline is None


@pytest.mark.parametrize("ci", ["", "true"])
def test_no_profile_prints_a_reproduce_failure_blob(ci):
    # Hypothesis reads CI once, at import: each setting needs a fresh interpreter.
    code = (
        "from hypothesis import HealthCheck, settings\n"
        "from autograd_props import profiles\n"
        f"print([settings.get_profile(p).print_blob for p in {PROFILES!r}], profiles.default_profile())\n"
        "print(settings.get_profile(profiles.DEV).derandomize, settings.get_profile(profiles.DEV).suppress_health_check)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "CI": ci} if ci else {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    expected = profiles.CI if ci else profiles.DEV
    assert out.split() == ["[False,", "False,", "False,", "False]", expected, "False", "()"]  # dev stays random


def test_ci_profile_is_derandomized_and_writes_no_database():
    ci = settings.get_profile(profiles.CI)
    assert ci.derandomize and ci.database is None
    assert list(ci.suppress_health_check) == [HealthCheck.too_slow]  # a wall-clock check, flaky on shared machines
    assert not settings.get_profile(profiles.DEV).derandomize
