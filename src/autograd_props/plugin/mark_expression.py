"""A gate run's ``-m`` expression names properties: one that names no marker at all (a typo such as
``-m vjp_nativ``) would deselect every cell and exit 5 with an empty report, so it is a usage error
naming the known properties instead."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["unknown_markers"]

_OPERATORS = {"and", "or", "not", "True", "False"}
# pytest's -m grammar: identifiers joined by and/or/not and parentheses; a marker may carry
# keyword arguments, ``name(key=value)``, whose keys and values are not markers.
_KEYWORD_ARGUMENTS = re.compile(r"\([^()]*=[^()]*\)")
_IDENTIFIER = re.compile(r"[\w.+\-\[\]\\/:]+")


def marker_name(line: str) -> str:
    """The marker a ``markers`` ini line registers (``name(args): description``)."""
    return re.split(r"[:(]", line, maxsplit=1)[0].strip()


def unknown_markers(expression: str, known: Iterable[str]) -> list[str]:
    """The identifiers of ``expression`` that are neither operators nor ``known`` markers, in order."""
    known = set(known)
    names = _IDENTIFIER.findall(_KEYWORD_ARGUMENTS.sub(" ", expression))
    return list(dict.fromkeys(n for n in names if n not in _OPERATORS and n not in known))
