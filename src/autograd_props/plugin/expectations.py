"""Expected failures and skips from files: ``--xfails-file`` and ``--skips-file``.

Both files have one entry a line::

    # comment lines and blank lines are ignored
    vjp_native[softplus-float64-cpu]  # mypkg#12: sign error
    vmap[softplus-*]  # mypkg#12 again, every dtype and device
    compile  # no [...] part: every spec, dtype and device

An entry is a cell key -- ``property[spec-dtype-device]``, as the report and ``pytest -v`` show
it -- then ``#`` and a reason, which is required.  Keys name no file, so moving a test file
breaks no entry.  ``*`` matches any run of characters; every other character, ``[`` and ``]``
included, stands for itself.  A key without a ``[...]`` part matches every cell of that
property.  A missing file, or a line without a reason, is a usage error naming the file and line.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

__all__ = ["Expectation", "ExpectationsFileError", "StaleExpectationWarning", "read_expectations"]


class ExpectationsFileError(ValueError):
    """The file is missing, or a line is not ``ID  # reason``."""


class StaleExpectationWarning(pytest.PytestWarning):
    """An entry of --xfails-file or --skips-file matches no collected test."""


_LINE = re.compile(r"(?P<id>\S+)\s+#\s*(?P<reason>.*?)\s*")


@dataclasses.dataclass(frozen=True)
class Expectation:
    kind: str  # "xfail" or "skip"
    pattern: str
    reason: str
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile(".*".join(re.escape(part) for part in self.pattern.split("*")))

    def matches(self, key: str) -> bool:
        """Whether this entry covers the cell ``key`` (``property[spec-dtype-device]``)."""
        regex = self.regex
        return bool(regex.fullmatch(key) or ("[" not in self.pattern and regex.fullmatch(key.partition("[")[0])))

    def marker(self) -> pytest.MarkDecorator:
        reason = f"--{self.kind}s-file {self.where}: {self.reason}"
        if self.kind == "skip":
            return pytest.mark.skip(reason=reason)
        # strict: once the bug is fixed the test fails as XPASS(strict), so the stale entry is
        # removed instead of hiding the next regression of the same cell.
        return pytest.mark.xfail(reason=reason, strict=True)


def read_expectations(path: str, kind: str) -> list[Expectation]:
    """Parse one file; raise ExpectationsFileError naming the file and line on a bad entry."""
    option = f"--{kind}s-file"
    file = Path(path)
    if not file.is_file():
        raise ExpectationsFileError(f"{option} {path}: no such file")
    entries = []
    for number, raw in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        match = _LINE.fullmatch(text)
        if match is None or not match["reason"]:
            raise ExpectationsFileError(
                f"{option} {path}:{number}: {text!r}: expected one cell key, then '#' and a reason, "
                f"as in 'vjp_native[myspec-*]  # why it fails'"
            )
        entries.append(Expectation(kind, match["id"], match["reason"], path, number))
    return entries
