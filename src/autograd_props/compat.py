"""What the installed torch supports, for the features the suite uses beyond torch 2.1's.

The suite runs on torch 2.1 and later (see the tox matrix in README.md).  Where an older torch,
or a torch on a newer Python than it supports, lacks a feature that a property needs, that
property is skipped with a reason naming the torch and Python versions instead of failing every
spec for a reason that is not the spec's.  Where the difference is a torch limitation that a
setting avoids, the property adapts instead (``compile_settings``).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import platform
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

from autograd_props.messages import first_line

__all__ = ["TORCH_VERSION", "compile_backend", "compile_settings", "skip_if_reference_lacks_kernel", "skip_where_torch_lacks_kernel", "unsupported_reason"]

TORCH_VERSION: tuple[int, int] = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", torch.__version__).groups())


def _versions() -> str:
    return f"torch {torch.__version__} on Python {platform.python_version()}"


@functools.cache  # the installed torch does not change within a run
def _compile_unavailable() -> str | None:
    import torch._dynamo.eval_frame

    try:
        torch._dynamo.eval_frame.check_if_dynamo_supported()
    except RuntimeError as exc:  # e.g. torch 2.5 on Python 3.13: "Python 3.13+ not yet supported"
        return f"{_versions()}: torch.compile is unavailable ({exc})"
    return None


def unsupported_reason(prop: str) -> str | None:
    """Why the installed torch cannot run property ``prop`` at all, or None when it can."""
    if prop == "compile":
        return _compile_unavailable()
    return unsupported_without_importing(prop)


def unsupported_without_importing(prop: str) -> str | None:
    """``unsupported_reason`` where it is known without importing torch._dynamo (2 s: most runs of
    the gate select no compile cell, and deciding every cell's skip at collection would pay it in
    every one); the compile check is made when a compile cell runs."""
    if prop.startswith("opcheck_"):
        return _opcheck_unavailable("test_" + prop.removeprefix("opcheck_"))
    return None


@functools.cache  # the installed torch does not change within a run
def _opcheck_unavailable(test: str) -> str | None:
    opcheck = getattr(torch.library, "opcheck", None)
    if opcheck is None:
        return f"{_versions()}: no torch.library.opcheck (torch 2.4+)"
    if test not in inspect.signature(opcheck).parameters["test_utils"].default:
        return f"{_versions()}: torch.library.opcheck has no {test}"
    return None


@contextlib.contextmanager
def compile_settings() -> Iterator[None]:
    """Dynamo settings the compile property needs on the installed torch.

    With ``dynamic=True``, torch 2.1 traces a Python int argument as a SymInt even where it is a
    dimension, and ``Tensor.sum(SymInt, keepdim=True)`` then fails inside dynamo (seen with the
    built-in ``logsumexp``); torch 2.5 specializes such ints itself.  On torch < 2.5 the suite
    asks for that with ``specialize_int`` (2.2 to 2.4 are not in the tox matrix, so they get the
    setting too).
    """
    if TORCH_VERSION < (2, 5):
        import torch._dynamo

        with torch._dynamo.config.patch(specialize_int=True):
            yield
    else:
        yield


def compile_backend() -> Any:
    """The backend the compile property compiles with: ``"aot_eager"``, or on torch < 2.5 an
    equal one made afresh.  torch 2.1's ``aot_autograd`` wraps the backend's shared
    ``bw_compiler`` once more on every compile, so after some hundreds of compiles in one
    process a backward recursed past Python's limit (seen in the suite's own run); 2.5 marks
    the wrapper and wraps once."""
    if TORCH_VERSION >= (2, 5):
        return "aot_eager"
    from functorch.compile import min_cut_rematerialization_partition
    from torch._dynamo.backends.common import aot_autograd
    from torch._dynamo.backends.debugging import boxed_nop

    return aot_autograd(fw_compiler=boxed_nop, partition_fn=min_cut_rematerialization_partition)


_MISSING_KERNEL = re.compile(r"not implemented for '(\w+)'")


@contextlib.contextmanager
def skip_where_torch_lacks_kernel(*, what: str, device: str) -> Iterator[None]:
    """Skip the test when what runs inside stops on a kernel the installed torch lacks.

    torch 2.1 has no CPU float16 kernels for softmax, addmm (``linear``), layer_norm or cumsum, so
    a Function or reference that uses one cannot run at that dtype there, whatever its gradient.
    That is the torch's limit, not a finding, so on torch < 2.5 (which has those kernels) the
    cell is skipped with the versions named.  Any other error still fails.
    """
    try:
        yield
    except RuntimeError as exc:
        missing = _MISSING_KERNEL.search(str(exc)) if TORCH_VERSION < (2, 5) else None
        if missing is None:
            raise
        pytest.skip(f"{_versions()}: no {device} {missing[1]} kernel for {what}: {first_line(exc, 500)}")


def skip_if_reference_lacks_kernel(reference: Callable[..., Any], args: tuple[Any, ...], *, what: str, device: str) -> None:
    """Skip the test when native torch has no kernel for the reference at this dtype and device
    (see :func:`skip_where_torch_lacks_kernel`), by calling the reference once per example on
    torch < 2.5, with the RNG state restored afterwards."""
    if TORCH_VERSION >= (2, 5) or device == "meta":
        return
    devices = [torch.device(device).index or 0] if device == "cuda" else []
    # anything but a missing kernel is the property's to judge
    with contextlib.suppress(Exception), skip_where_torch_lacks_kernel(what=what, device=device), \
            torch.random.fork_rng(devices=devices), torch.no_grad():
        reference(*args)
