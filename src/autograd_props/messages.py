"""What an exception says, in one line: for notes, skips and failure summaries."""

from __future__ import annotations


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-blank line of ``str(exc)``, stripped, at most ``limit`` characters; "" when it
    says nothing (``NotImplementedError()``), which callers must not index into."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""
