"""``autograd-props merge PARTS... --report-dir DIR``: the report parts of a run split by
``--shard K/N`` joined into one report, with the unsharded run's exit code."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["MERGE_USAGE", "main"]

MERGE_USAGE = "usage: autograd-props merge PARTS... --report-dir DIR"


def main(argv: list[str]) -> int:
    from autograd_props._engine.parts import MergeError, merge_parts

    parts, report_dir, problem = [], None, None
    rest = iter(argv)
    for arg in rest:
        if arg == "--report-dir":
            report_dir = next(rest, None)
            if report_dir is None:
                problem = "--report-dir needs a directory"
        elif arg.startswith("--report-dir="):
            report_dir = arg.partition("=")[2]
        elif arg in ("-h", "--help"):
            print(MERGE_USAGE)
            return 0
        elif arg.startswith("-"):
            problem = f"unknown option {arg}"
        else:
            parts.append(Path(arg))
    if problem is None and not parts:
        problem = "no report part given"
    if problem is None and not report_dir:
        problem = "--report-dir DIR is required (where the merged report goes)"
    if problem is not None:
        print(f"autograd-props merge: {problem}; {MERGE_USAGE}", file=sys.stderr)
        return 4
    try:
        merged = merge_parts(parts)
    except MergeError as exc:
        print(f"autograd-props merge: {exc}", file=sys.stderr)
        return 4
    from autograd_props.plugin.report import summary_lines, write_report

    try:
        json_path, md_path = write_report(merged.results, Path(report_dir), merged.header, not_run=merged.not_run)
    except OSError as exc:
        print(f"autograd-props merge: --report-dir {report_dir}: cannot write the report there ({exc})", file=sys.stderr)
        return 4
    for line in summary_lines(merged.results):
        print(line)
    print(f"report: {md_path} and {json_path} ({len(parts)} parts, {len(merged.results)} cells; exit code {merged.exit_code})")
    return merged.exit_code

