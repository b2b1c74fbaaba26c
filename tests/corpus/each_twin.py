"""Every twin under its own name, so that one gate run can check a single twin
(``--funcs tests.corpus.each_twin:NAME``) and the meta-tests spread the twins over the cores."""

from tests.corpus.twins import TWINS

globals().update(TWINS)
