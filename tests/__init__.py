"""The suite's own tests: oracles, strategies, spec validation, the plug-in paths, and the planted-bug
corpus (``tests/corpus``).  A user's gate run never collects them."""
