"""README.md keeps its promises: its two commands come first, CI runs the second, its
property table lists exactly the registry, and its custom op and complex examples run."""

from __future__ import annotations

import re
import textwrap

import pytest
import torch

from autograd_props import PROPERTY_NAMES
from tests.corpus.gate_runner import ROOT

README = (ROOT / "README.md").read_text()


def test_the_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    block = re.match(r"# autograd-props\n\n```bash\n(.*?)\n```", README, re.S)
    assert block, "README.md must open with one bash block"
    first, second = block[1].splitlines()
    assert first.endswith("python -m autograd_props -n auto")
    assert second.endswith("python -m pytest -n auto")
    assert second in (ROOT / ".ci" / "run").read_text()


def test_the_property_table_lists_the_registry():
    table = README.split("## The properties", 1)[1].split("\n\n", 2)[1]
    names = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert names == list(PROPERTY_NAMES)


@pytest.mark.skipif(not hasattr(torch.library, "custom_op"), reason=f"torch {torch.__version__} has no torch.library.custom_op (torch 2.4+)")
def test_the_custom_op_example_runs_and_checks_the_op():
    code = re.search(r"### Custom ops\n.*?```python\n(.*?)```", README, re.S)[1]
    namespace: dict = {}
    exec(compile(code, "README.md (custom ops)", "exec"), namespace)  # noqa: S102 - our own README's example
    assert namespace["SPEC"].custom_op is namespace["silu"]


def test_the_complex_example_runs_and_checks_the_function():
    code = re.search(r"\*\*Complex tensors\.\*\*.*?```python\n(.*?)```", README, re.S)[1]
    namespace: dict = {}
    exec(compile(textwrap.dedent(code), "README.md (complex tensors)", "exec"), namespace)  # noqa: S102 - our own README's example
    assert namespace["SPEC"].dtypes == (torch.complex128, torch.complex64)


def test_install_instructions_are_ones_that_work():
    # Nothing is published on PyPI: `pip install autograd-props` would fail for a new user.
    assert "pip install autograd-props" not in README
    assert "`pip install .`" in README and "pip wheel --no-deps -w dist ." in README
    assert (ROOT / "CHANGELOG.md").is_file() and (ROOT / "src" / "autograd_props" / "py.typed").is_file()
