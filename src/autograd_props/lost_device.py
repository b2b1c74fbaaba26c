"""A device whose context a cell has lost: a sticky accelerator error.

An illegal memory access (or a device-side assert) on CUDA leaves the process's CUDA context
unusable: every later call on that device raises the same error, whatever it does.  Without this,
one such cell turns every later cell of the process on that device red with an error none of them
caused.  The cell that met the error fails with an explanation; later cells on that device fail at
once, naming it, without running.
"""

from __future__ import annotations

import torch

__all__ = ["DeviceContextLost", "explain", "forget", "is_sticky", "lost_in", "mark_lost", "not_run"]

# Texts of CUDA's sticky errors (cudaErrorIllegalAddress, cudaErrorAssert, cudaErrorLaunchFailure ...):
# after them the context must be destroyed, which a running process cannot do.
_STICKY_TEXTS = (
    "illegal memory access",
    "device-side assert",
    "unspecified launch failure",
    "misaligned address",
    "illegal instruction",
)

_lost: dict[str, str] = {}  # device type -> key of the cell in which its context was lost


class DeviceContextLost(AssertionError):
    """A cell not run because an earlier cell of this process lost its device's context."""


def _chain(exc: BaseException):
    """``exc``, the exceptions it was raised from or during, and those inside an exception group."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack += [e.__cause__, e.__context__, *getattr(e, "exceptions", ())]


def is_sticky(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it came from) is an accelerator error that poisons the process."""
    accelerator_error = getattr(torch, "AcceleratorError", None)  # torch 2.8+
    for e in _chain(exc):
        text = str(e)
        if (accelerator_error is not None and isinstance(e, accelerator_error)) or "CUDA error" in text:
            if any(t in text for t in _STICKY_TEXTS):
                return True
    return False


def mark_lost(device: str, key: str) -> None:
    _lost.setdefault(device, key)


def lost_in(device: str) -> str | None:
    """The key of the cell in which ``device``'s context was lost in this process, if it was."""
    return _lost.get(device)


def forget() -> None:
    """Forget lost devices (for tests that simulate a loss)."""
    _lost.clear()


def explain(device: str) -> str:
    """What the cell that lost ``device``'s context adds to its failure."""
    return (
        f"the {device} context of this process is lost (a sticky error: every later call on {device} in this "
        f"process fails with it), so this process's later {device} cells are not run. {device} reports kernel "
        f"errors asynchronously, possibly at a later call than the one at fault (the Function, its reference or "
        f"the gate's own): run the reproducer with CUDA_LAUNCH_BLOCKING=1 to find the call"
    )


def not_run(device: str, lost_by: str) -> DeviceContextLost:
    # No key of its own: every cell it stops reads the same, so the report folds them into one.
    return DeviceContextLost(
        f"not run: the {device} context of this process was lost in {lost_by} (a sticky error such as an "
        f"illegal memory access); see that cell's failure. Rerun this cell on its own to judge it"
    )
