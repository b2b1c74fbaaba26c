"""The planted-bug corpus: correct twins, mutants that each differ from a twin by one bug, and the
meta-tests that run them through the gate as a user would."""
