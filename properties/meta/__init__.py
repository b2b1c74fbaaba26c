"""The suite's own tests: planted bugs the gate must catch, spec validation, strategies, oracles."""
