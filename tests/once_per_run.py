"""A costly fixture value made once per test run, also under pytest-xdist, where every worker
would otherwise make its own (xdist's documented pattern: a file lock in the run's shared
temporary directory, the value pickled for the other workers)."""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from filelock import FileLock

T = TypeVar("T")


def once_per_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str, make: Callable[[Path], T]) -> T:
    """``make(directory)``'s value, made once per run in a directory kept for the whole run."""
    if worker_id == "master":
        return make(tmp_path_factory.mktemp(name))
    root = tmp_path_factory.getbasetemp().parent
    made = root / f"{name}.pickle"
    with FileLock(f"{root / name}.lock"):
        if made.is_file():
            return pickle.loads(made.read_bytes())
        directory = root / name
        shutil.rmtree(directory, ignore_errors=True)  # a half-made one from a failed attempt
        directory.mkdir()
        value = make(directory)
        made.write_bytes(pickle.dumps(value))
        return value
