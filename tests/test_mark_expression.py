"""The names a ``-m`` expression uses, as the gate checks them (plugin/mark_expression.py)."""

import pytest

from autograd_props.plugin.mark_expression import marker_name, unknown_markers

KNOWN = {"vjp_native", "compile", "special_values", "slow"}


@pytest.mark.parametrize(
    ("expression", "unknown"),
    [
        ("vjp_native", []),
        ("vjp_nativ", ["vjp_nativ"]),
        ("not special_values and (vjp_native or compile)", []),
        ("not slow and (vjp_natve or compyle) and compyle", ["vjp_natve", "compyle"]),
        ("compile(backend='eager', n=2) or vjp_native", []),  # keyword arguments are not markers
        ("", []),
    ],
)
def test_unknown_markers(expression, unknown):
    assert unknown_markers(expression, KNOWN) == unknown


@pytest.mark.parametrize(
    ("line", "name"),
    [("slow: runs the gate", "slow"), ("skipif(condition, ..., *, reason=...): skip", "skipif"), ("plain", "plain")],
)
def test_marker_name_of_an_ini_line(line, name):
    assert marker_name(line) == name
