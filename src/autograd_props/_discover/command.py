"""``python -m autograd_props discover TARGET [--write-specs FILE] [pytest options]``.

Finds every custom Function and custom op TARGET (a module, a package or a path) defines, infers
a spec for each and runs the gate over them (the spec source ``discover:TARGET``), with the usual
report, matrix, exit codes and reproducers; a Function that could not be inferred is listed and
keeps the run from passing (exit 5 when no cell failed).  ``--write-specs FILE`` writes the
inferred specs as a spec module instead of running the gate.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["main"]

USAGE = "usage: autograd-props discover TARGET [--write-specs FILE] [pytest options]"


def _write_specs_option(args: list[str]) -> tuple[str | None, list[str]]:
    """(the --write-specs FILE value or None, the other arguments)."""
    rest, path = [], None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--write-specs":
            if i + 1 >= len(args):
                raise ValueError("--write-specs needs a FILE")
            path = args[i + 1]
            i += 2
            continue
        if arg.startswith("--write-specs="):
            path = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return path, rest


def main(argv: list[str]) -> int:
    from autograd_props.__main__ import _importable_from_cwd
    from autograd_props.__main__ import main as gate_main

    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() if argv else USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 4
    target, rest = argv[0], argv[1:]
    if target.startswith("-"):
        print(f"autograd-props discover: expected TARGET first; {USAGE}", file=sys.stderr)
        return 4
    try:
        write_to, pytest_args = _write_specs_option(rest)
    except ValueError as exc:
        print(f"autograd-props discover: {exc}; {USAGE}", file=sys.stderr)
        return 4
    _importable_from_cwd()
    from autograd_props.discovery import TargetError, discover

    try:
        found = discover(target)
    except TargetError as exc:
        print(f"autograd-props discover: {exc}", file=sys.stderr)
        return 4
    if not found.found:
        print(f"autograd-props discover: {target!r} defines no torch.autograd.Function subclass and no custom op", file=sys.stderr)
        return 4
    print(f"autograd-props discover {target}: {len(found.found)} found, {len(found)} inferred, {len(found.not_inferred)} not inferred")
    for spec in found:
        print(f"  {spec.name}: " + "; ".join(spec.inference_notes[1:2] + spec.inference_notes[0:1]))
    for missing in found.not_inferred:
        print(f"  {missing}")
    if write_to is not None:
        from autograd_props._discover.spec_writer import spec_module

        try:
            Path(write_to).write_text(spec_module(found))
        except OSError as exc:
            print(f"autograd-props discover: --write-specs {write_to}: {exc}", file=sys.stderr)
            return 4
        print(f"wrote {len(found)} specs to {write_to}; run the gate over them with: python -m autograd_props {Path(write_to).stem}")
        return 0
    from autograd_props.loading import DISCOVER_PREFIX

    return gate_main([DISCOVER_PREFIX + target, *pytest_args])
