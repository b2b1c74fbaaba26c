"""The command: ``python -m autograd_props [MODULE[:ATTR] ...] [pytest options]`` (also installed as
``autograd-props``).

Runs every property over the specs of each MODULE (``MODULE.SPECS``, or ``MODULE:ATTR``, a
FunctionSpec or an iterable of them) and writes ``report/verification.md`` and
``report/verification.json``.  MODULE is imported with the current directory on ``sys.path``.
Without a MODULE, inside this project's checkout, it checks the built-in Functions (``funcs``).
Everything after the modules goes to pytest: ``-n 2``, ``-m vjp_native``, ``--junitxml=PATH``,
``--report-dir DIR``, ``--hypothesis-profile autograd-props-thorough``, ...

Exit codes are pytest's: 0 every property passed, 1 a property failed, 2 interrupted,
4 usage error (an unknown module, a malformed spec, a bad option), 5 no cells ran.

Subcommands, named by the first argument:

  merge PARTS... --report-dir DIR   join the report parts of a run split by --shard K/N (each PART a
                                    shard's report directory or its verification.json) into one
                                    report in DIR; its exit code is the unsharded run's (4: a part
                                    missing, unreadable or of another run)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

USAGE = " ".join(__doc__.split("\n\n", 1)[0].replace("The command: ", "usage: ").split())  # one line


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(leading MODULE arguments, the rest for pytest)."""
    sources = []
    for arg in argv:
        if arg.startswith("-"):
            break
        sources.append(arg)
    return sources, argv[len(sources):]


def _importable_from_cwd() -> None:
    """The current directory on sys.path, here and in pytest-xdist's workers (as ``python -m`` does)."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    paths = os.environ.get("PYTHONPATH", "")
    if cwd not in paths.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (cwd, paths) if p)


def _merge(argv: list[str]) -> int:
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


MERGE_USAGE = "usage: autograd-props merge PARTS... --report-dir DIR"
SUBCOMMANDS = {"merge": _merge}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    sources, pytest_args = _split(argv)
    _importable_from_cwd()
    from autograd_props.loading import BUILT_IN_SOURCE, ENV_VAR, SpecSourceError
    from autograd_props.plugin.session import specs_from

    funcs_option = any(a == "--funcs" or a.startswith("--funcs=") for a in pytest_args)
    if not sources and not funcs_option and not os.environ.get(ENV_VAR):
        try:
            specs_from((BUILT_IN_SOURCE,))
        except SpecSourceError:
            print(f"autograd-props: no spec module given; {USAGE.strip()}", file=sys.stderr)
            return 4
    try:
        if sources:
            specs_from(sources)
    except SpecSourceError as exc:
        print(f"autograd-props: {exc}", file=sys.stderr)
        return 4
    import pytest

    from autograd_props.plugin import gate_tests

    gate_file = Path(gate_tests.__file__)
    # rootdir at the gate's own folder keeps test ids short (gate_tests.py::TestGate::test_...);
    # pytest's cache stays in the current directory, as in a plain pytest run.
    where = ["--rootdir", str(gate_file.parent)]
    if "no:cacheprovider" not in pytest_args:
        where += ["-o", f"cache_dir={Path.cwd() / '.pytest_cache'}"]
    # Validating the sources above imported the package (and Hypothesis) before pytest could mark
    # them for assertion rewriting, which it warns about; nothing here relies on rewritten asserts.
    where += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    funcs = [f"--funcs={s}" for s in sources]
    return int(pytest.main([str(gate_file), *where, *funcs, *pytest_args]))


if __name__ == "__main__":
    sys.exit(main())
