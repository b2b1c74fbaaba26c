"""One gate run per report directory at a time: a second run into the same ``--report-dir`` would
overwrite the first's report with its own, so it is refused while the first holds the lock.

The lock is an OS file lock (``flock``; ``msvcrt.locking`` on Windows) on a file in the directory,
held by the process that writes the report until it exits: a run killed outright releases it, so
no stale lock is ever left to clear by hand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

__all__ = ["LOCK_NAME", "ReportDirBusy", "lock_report_dir"]

LOCK_NAME = ".autograd-props.lock"


class ReportDirBusy(Exception):
    """Another live process holds the report directory."""


def _try_lock(handle: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def lock_report_dir(directory: Path) -> IO[str]:
    """Lock ``directory`` for this process (kept until the returned handle is closed or the process
    ends).  Raises ReportDirBusy naming the holder's pid, or OSError if the directory cannot be written."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    handle = open(path, "a+")  # noqa: SIM115 (held open for the whole run)
    if not _try_lock(handle):
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise ReportDirBusy(f"another gate run (pid {holder}) is writing its report there")
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
