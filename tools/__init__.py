"""Runnable tools over the corpus and the built-in set: ``python -m tools.corpus_table``, ``python -m tools.soak``."""
