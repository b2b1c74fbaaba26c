"""What the installed torch supports, for the features the suite uses beyond torch 2.1's.

The suite runs on torch 2.1 and later (see the tox matrix in README.md).  Where an older torch,
or a torch on a newer Python than it supports, lacks a feature that a property needs, that
property is skipped with a reason naming the torch and Python versions instead of failing every
spec for a reason that is not the spec's.  Where the difference is a torch limitation that a
setting avoids, the property adapts instead (``compile_settings``).
"""

from __future__ import annotations

import contextlib
import inspect
import platform
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

__all__ = ["TORCH_VERSION", "compile_settings", "skip_if_reference_lacks_kernel", "unsupported_reason"]

TORCH_VERSION: tuple[int, int] = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", torch.__version__).groups())


def _versions() -> str:
    return f"torch {torch.__version__} on Python {platform.python_version()}"


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
    if prop.startswith("opcheck_"):
        return _opcheck_unavailable("test_" + prop.removeprefix("opcheck_"))
    return None


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


_MISSING_KERNEL = re.compile(r"not implemented for '(\w+)'")


def skip_if_reference_lacks_kernel(reference: Callable[..., Any], args: tuple[Any, ...], *, what: str, device: str) -> None:
    """Skip the test when native torch has no kernel for the reference at this dtype and device.

    torch 2.1 has no CPU float16 kernels for softmax, addmm (``linear``) or layer_norm, so there
    is no native result to compare with.  Checked on torch < 2.5 only (2.5 has those kernels), by
    calling the reference once per example with the RNG state restored afterwards.
    """
    if TORCH_VERSION >= (2, 5) or device == "meta":
        return
    devices = [torch.device(device).index or 0] if device == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            reference(*args)
    except RuntimeError as exc:
        missing = _MISSING_KERNEL.search(str(exc))
        if missing:
            pytest.skip(f"{_versions()}: no {device} {missing[1]} kernel for {what}: {str(exc).splitlines()[0]}")
    except Exception:  # anything else is the property's to judge
        pass
