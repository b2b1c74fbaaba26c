"""The command: ``python -m autograd_props [MODULE[:ATTR] ...] [pytest options]`` (also installed as
``autograd-props``).

``autograd-props discover TARGET [--write-specs FILE] [pytest options]`` checks the Functions and
custom ops TARGET (a module, a package or a path) defines, with no spec written
(``autograd_props/discovery.py``).

Runs every property over the specs of each MODULE (``MODULE.SPECS``, or ``MODULE:ATTR``, a
FunctionSpec or an iterable of them) and writes ``report/verification.md`` and
``report/verification.json``.  MODULE is imported with the current directory on ``sys.path``.
Without a MODULE, inside this project's checkout, it checks the built-in Functions (``funcs``).
Everything after the modules goes to pytest: ``-n 2``, ``-m vjp_native``, ``--junitxml=PATH``,
``--report-dir DIR``, ``--hypothesis-profile autograd-props-thorough``, ...

Exit codes are pytest's: 0 every property passed, 1 a property failed, 2 interrupted,
4 usage error (an unknown module, a malformed spec, a bad option), 5 no cells ran.

Subcommands, named by the first argument:

  discover TARGET [--write-specs FILE] [pytest options]
                                    check the Functions and custom ops TARGET defines, no spec written
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


# ``autograd-props NAME ...``: each subcommand's module has a ``main(argv)``.
SUBCOMMANDS = {"discover": "autograd_props._discover.command", "merge": "autograd_props._engine.merge_command"}


def help_text() -> str:
    """The command's help: usage, subcommands, the gate's options, exit codes (plain text)."""
    import textwrap

    from autograd_props.plugin import GATE_OPTIONS

    def item(name: str, text: str) -> list[str]:
        wrapped = textwrap.wrap(text, 100 - 28, break_on_hyphens=False)
        first = f"  {name:<26}" if len(name) <= 24 else f"  {name}\n" + " " * 28
        return [first + (wrapped[0] if wrapped else "")] + [" " * 28 + line for line in wrapped[1:]]

    lines = [
        "usage: autograd-props [MODULE[:ATTR] ...] [options]   (or: python -m autograd_props ...)",
        "",
        "Runs every property over the FunctionSpecs of each MODULE (MODULE.SPECS, or MODULE:ATTR) and writes",
        "report/verification.md and report/verification.json.  Without a MODULE, inside this project's",
        "checkout, it checks the built-in Functions.",
        "",
        "subcommands:",
        *item("discover TARGET", "check the Functions and custom ops TARGET (a module, a package or a path) defines, "
              "no spec written; --write-specs FILE writes the inferred specs"),
        *item("merge PARTS... --report-dir DIR", "join the report parts of a run split by --shard K/N into one report"),
        "",
        "the gate's options:",
    ]
    for flags, keywords in GATE_OPTIONS:
        metavar = keywords.get("metavar")
        name = ", ".join(flags) + (f" {metavar}" if metavar else "")
        lines += item(name, keywords.get("help", ""))
    lines += [
        "",
        "pytest's options pass through, among them:",
        *item("-m EXPR", "the properties to run, e.g. -m 'vjp_native or double_backward' (a name no property has is a usage error)"),
        *item("-k EXPR", "cells by name, e.g. -k float64 or -k 'softplus and not float16'"),
        *item("-n N", "N worker processes (pytest-xdist), -n auto for one per core"),
        *item("--hypothesis-profile NAME", "autograd-props-ci (derandomized, the default where CI is set), "
              "autograd-props-dev (random, the default elsewhere), autograd-props-thorough, autograd-props-large"),
        *item("-x, --maxfail N", "stop early: the report says so and lists the cells that did not run"),
        "",
        "exit codes: 0 every property passed, 1 a property failed, 2 interrupted, 4 usage error (an unknown",
        "module, a malformed spec or a mistake in one, a bad option), 5 no cells ran.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:
        import importlib

        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    if argv[:1] in (["-h"], ["--help"]):
        print(help_text())
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
    from packaging.version import Version

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
    # Where CI is set, pytest's short summary repeats each failure's whole message (reproducer
    # included) below the full one; one line per failing cell is enough there too.
    if Version(pytest.__version__) >= Version("8.4"):  # packaging: a dependency of pytest
        where += ["--force-short-summary"]
    funcs = [f"--funcs={s}" for s in sources]
    return int(pytest.main([str(gate_file), *where, *funcs, *pytest_args]))


if __name__ == "__main__":
    sys.exit(main())
