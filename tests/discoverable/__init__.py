"""A package of custom Functions in the styles public code writes them, with no spec: the subject
of ``autograd-props discover`` in tests/test_discover.py.  Every Function here is correct (the
surrogates are correct by design, and discovery must say that their backward is not the
forward's derivative); ``tests/discoverable_bugs`` holds copies with one planted bug each."""
