"""What an exception says, in one line: for notes, skips and failure summaries."""

from __future__ import annotations

import traceback


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-blank line of ``str(exc)``, stripped, at most ``limit`` characters; "" when it
    says nothing (``NotImplementedError()``), which callers must not index into."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


def described(exc: BaseException, limit: int = 1000) -> str:
    """``Type: first line``; for an exception that says nothing (a bare ``assert`` in a backward),
    where it was raised and the line that raised it, so the failure still says something."""
    said = first_line(exc, limit)
    if said:
        return f"{type(exc).__name__}: {said}"[:limit]
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return f"{type(exc).__name__} (no message)"
    where = frames[-1]
    line = f": {where.line.strip()}" if where.line else ""
    return f"{type(exc).__name__} (no message), raised at {where.filename}:{where.lineno} in {where.name}{line}"[:limit]
