"""This repository's pytest set-up.

The gate itself needs nothing here: the plugin comes with the installed package, as for any user.
What is here concerns this repository's own Hypothesis tests (the regression fit, the oracle and
strategy tests): they run under the gate's profiles, derandomized wherever ``CI`` is set.
``--hypothesis-profile`` still chooses otherwise.
"""

from hypothesis import settings

from autograd_props import profiles

settings.load_profile(profiles.default_profile())
